//! Benchmark fixture for `bench/verify.sh` (README, "Benchmark"): creates a
//! NEW database holding N live grants, each with one access token valid
//! until revoked, and one resource-server secret. It is an example, not a
//! subcommand, so no `doorstep` user can run it by accident; it refuses to
//! touch an existing file.
//!
//! Usage: bench_seed DB N TOKENS_OUT SAMPLE
//!   writes SAMPLE of the access tokens, one per line, to TOKENS_OUT and
//!   prints the resource-server secret on standard output.

use doorstep::domain::{ClientId, ScopeSet, Secret};
use doorstep::store::{Store, resource_servers, tokens};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: bench_seed DB N TOKENS_OUT SAMPLE");
        return ExitCode::from(2);
    }
    let db = PathBuf::from(&args[1]);
    let (Ok(n), Ok(sample)) = (args[2].parse::<usize>(), args[4].parse::<usize>()) else {
        eprintln!("N and SAMPLE must be numbers");
        return ExitCode::from(2);
    };
    if db.exists() {
        eprintln!(
            "{} exists; bench_seed only creates new databases",
            db.display()
        );
        return ExitCode::FAILURE;
    }
    match seed(&db, n, &PathBuf::from(&args[3]), sample) {
        Ok(secret) => {
            println!("{secret}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_seed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn seed(
    db: &std::path::Path,
    n: usize,
    out: &std::path::Path,
    sample: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    let store = Store::open(db)?;
    let now = doorstep::clock::Clock::system().now();
    let me = "http://127.0.0.1:8080/";
    // Spread the sample over the whole table, not just its start.
    let every = (n / sample.max(1)).max(1);
    let clients = (0..50)
        .map(|i| ClientId::parse(&format!("https://app{i}.example/")))
        .collect::<Result<Vec<_>, _>>()?;
    let scope = ScopeSet::parse("create update media")?;
    let kept = store.write_now(|tx| {
        let mut kept = Vec::new();
        for i in 0..n {
            let client = &clients[i % clients.len()];
            let grant = tokens::Grant {
                client_id: client.clone(),
                client_name: None,
                client_logo: None,
                redirect_uri: format!("{client}callback"),
                scope: scope.clone(),
                me: me.to_owned(),
                access_lifetime: None,
            };
            let token = Secret::generate();
            tokens::create_grant_with_token(tx, &grant, &token.hash(), now, None)?;
            if i % every == 0 && kept.len() < sample {
                kept.push(token.expose().to_owned());
            }
        }
        Ok(kept)
    })?;
    let mut f = std::fs::File::create(out)?;
    for t in &kept {
        writeln!(f, "{t}")?;
    }
    let secret = Secret::generate();
    let hash = secret.hash();
    store.write_now(|tx| resource_servers::create(tx, "bench", &hash, now))?;
    Ok(secret.expose().to_owned())
}
