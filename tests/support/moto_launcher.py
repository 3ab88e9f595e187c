"""Starts moto's server on a free loopback port for one test binary.

Prints the port once the server answers, then serves until its standard input closes
(the test binary exited or died), so no server outlives the tests that started it.
"""

import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    print(server._server.server_port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
