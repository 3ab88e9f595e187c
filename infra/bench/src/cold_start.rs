//! Cold starts of the Lambda function binaries: each release binary started under the Lambda
//! Runtime API emulator (`sikurd-tests`), aimed at moto, timed from process start to its first
//! request for work; and each binary's size, raw and zipped as Lambda takes it (`bootstrap`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use sikurd_tests::lambda::{CloudResources, LambdaFunction};

#[derive(Args, Debug)]
pub struct Options {
    /// Cold starts per function.
    #[arg(long, default_value_t = 10)]
    starts: usize,
    /// The directory of the function binaries (default: this binary's).
    #[arg(long)]
    binaries: Option<PathBuf>,
}

/// The size of `binary` zipped as Lambda's `bootstrap`, in bytes.
fn zipped_size(binary: &std::path::Path) -> anyhow::Result<u64> {
    let dir = tempfile::tempdir()?;
    std::fs::copy(binary, dir.path().join("bootstrap"))?;
    let status = Command::new("zip")
        .current_dir(dir.path())
        .args(["-q", "-9", "function.zip", "bootstrap"])
        .status()
        .context("cannot run zip")?;
    if !status.success() {
        bail!("zip failed: {status}");
    }
    Ok(std::fs::metadata(dir.path().join("function.zip"))?.len())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.starts == 0 {
        bail!("--starts must be at least 1");
    }
    let dir = match o.binaries {
        Some(dir) => dir,
        None => std::env::current_exe()?.parent().context("no binary directory")?.to_owned(),
    };
    let cloud = CloudResources::create().await;
    // Every variable any function reads; none is used before the first invocation but the
    // bucket's name.
    let bucket = sikurd_tests::moto().fresh_bucket().await;
    let env = cloud
        .environment(&[("SIKURD_EXPORT_BUCKET", bucket.as_str()), ("SIKURD_PUBLIC_URL", "https://app.sikurd.example")]);
    println!("cold start: {} starts per function, x86-64 release binaries, {}", o.starts, dir.display());
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "function", "min ms", "median ms", "max ms", "size MiB", "zipped MiB"
    );
    for name in sikurd::functions::FUNCTIONS.iter().map(|f| f.name) {
        let binary = dir.join(name);
        if !binary.exists() {
            bail!("{} is missing: cargo build --release -p {name}", binary.display());
        }
        let mut inits = Vec::with_capacity(o.starts);
        for _ in 0..o.starts {
            let mut function = LambdaFunction::start(&binary, name, &env).await;
            inits.push(function.init_duration(Duration::from_secs(30)).await);
        }
        inits.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let mib = |bytes: u64| bytes as f64 / 1024.0 / 1024.0;
        println!(
            "{:<16} {:>9.1} {:>9.1} {:>9.1} {:>11.2} {:>11.2}",
            name,
            ms(inits[0]),
            ms(inits[inits.len() / 2]),
            ms(inits[inits.len() - 1]),
            mib(std::fs::metadata(&binary)?.len()),
            mib(zipped_size(&binary)?)
        );
    }
    Ok(())
}
