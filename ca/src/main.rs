//! `weft-ca`: command-line front end of the weft certificate authority.
//!
//! `weft-ca cryptogen generate --config crypto-config.yaml --output crypto-config` and
//! `weft-ca cryptogen showtemplate` behave like Fabric's `cryptogen`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use weft_ca::cryptogen;

#[derive(Debug, Parser)]
#[command(name = "weft-ca", version, about = "weft certificate authority tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Offline crypto material generation, like Fabric's `cryptogen`.
    Cryptogen {
        #[command(subcommand)]
        command: CryptogenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CryptogenCommand {
    /// Generate key material for every organisation of a crypto-config.yaml.
    Generate {
        /// The configuration template to use.
        #[arg(long, default_value = "crypto-config.yaml")]
        config: PathBuf,
        /// The output directory in which to place artifacts.
        #[arg(long, default_value = "crypto-config")]
        output: PathBuf,
    },
    /// Show the default configuration template.
    Showtemplate,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Cryptogen { command } => match command {
            CryptogenCommand::Showtemplate => {
                print!("{}", cryptogen::DEFAULT_TEMPLATE);
                Ok(())
            }
            CryptogenCommand::Generate { config, output } => {
                let cfg = cryptogen::load_config(&config)?;
                let summary = cryptogen::generate(&cfg, &output).with_context(|| {
                    format!("generating crypto material into {}", output.display())
                })?;
                for org in &summary.orgs {
                    println!("{}", org.domain);
                }
                Ok(())
            }
        },
    }
}
