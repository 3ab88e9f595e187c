"""Runs Schemathesis against a local stack started here, with the OpenAPI document it serves.

Starts `sikurd-local run --demo` on a free port with a fresh data directory, signs in as the
demo owner, and lets Schemathesis exercise every operation with that session and its CSRF token.
Fails on any 5xx or any response that violates the document. Stops the stack when done.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def start_stack(binary: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, SIKURD_BCRYPT_COST="4", SIKURD_LOG="error")
    stack = subprocess.Popen(
        [binary, "--data-dir", data_dir, "run", "--demo", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    deadline = time.time() + 60
    assert stack.stdout is not None
    while time.time() < deadline:
        line = stack.stdout.readline()
        if not line:
            break
        if "API on http://" in line:
            api = next(w for w in line.split() if w.startswith("http://"))
            return stack, api
    stack.kill()
    sys.exit("sikurd-local did not start its API")


def sign_in(api: str, data_dir: str) -> tuple[str, str]:
    with open(os.path.join(data_dir, "demo-login.txt")) as f:
        email, password = f.read().split()[:2]
    body = json.dumps({"email": email, "password": password}).encode()
    request = urllib.request.Request(
        f"{api}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request) as response:
        cookie = response.headers["Set-Cookie"].split(";")[0]
        csrf = json.load(response)["csrf_token"]
    return cookie, csrf


def main() -> int:
    binary = os.environ.get("SIKURD_LOCAL_BIN", os.path.join(ROOT, "target", "debug", "sikurd-local"))
    schemathesis = os.path.join(ROOT, ".venv", "bin", "schemathesis")
    with tempfile.TemporaryDirectory() as data_dir:
        stack, api = start_stack(binary, data_dir)
        try:
            cookie, csrf = sign_in(api, data_dir)
            command = [
                schemathesis,
                "run",
                f"{api}/api/v1/openapi.json",
                "--header", f"Cookie: {cookie}",
                "--header", f"X-CSRF-Token: {csrf}",
                # Signing out (or changing one's own password) would end the session the rest of
                # the run uses; both are covered by the router tests.
                "--exclude-path", "/api/v1/auth/logout",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                "response_headers_conformance,response_schema_conformance",
                "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"),
                "--seed", "20261129",
                "--request-timeout", "30",
            ]
            return subprocess.call(command)
        finally:
            stack.terminate()
            stack.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
