/*!
The command line, Singer style (`--config`, `--discover`, `--catalog`/`--properties`, `--state`).

Only parsing lives here: [`Cli`] is turned into a [`Command`] and nothing else sees clap types.
Meltano passes `--state` and `--catalog` along with `--discover`; those are accepted and ignored.
*/

use clap::Parser;

/// Singer tap for Stripe: discover the catalog, or sync the selected streams to stdout.
#[derive(Debug, Parser)]
#[command(name = "tap-stripe", version, about, long_about = None)]
pub struct Cli {
    /// Config file (JSON object): client_secret, account_id, start_date, base_url, api_version,
    /// request_timeout, date_window_days. Repeat the flag to merge several files; later files win.
    #[arg(short, long, value_name = "FILE")]
    pub config: Vec<String>,

    /// Print the catalog (every stream, its JSON Schema and Singer metadata) and exit. Needs no
    /// network and no valid key.
    #[arg(short, long)]
    pub discover: bool,

    /// Catalog file selecting the streams and fields to sync (the output of --discover with
    /// `"selected": true` in the metadata of the chosen streams).
    #[arg(long, value_name = "FILE", conflicts_with = "properties")]
    pub catalog: Option<String>,

    /// Legacy name of --catalog, same format.
    #[arg(short, long, value_name = "FILE")]
    pub properties: Option<String>,

    /// State file from a previous run (the value of its last STATE message): only objects
    /// created since are read.
    #[arg(short, long, value_name = "FILE")]
    pub state: Option<String>,
}

/// What the user asked for, independent of how it was spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the catalog.
    Discover { config: Vec<String> },
    /// Sync the streams the catalog selects.
    Sync { config: Vec<String>, catalog: Option<String>, state: Option<String> },
}

impl Cli {
    pub fn command(self) -> Command {
        if self.discover {
            Command::Discover { config: self.config }
        } else {
            Command::Sync { config: self.config, catalog: self.catalog.or(self.properties), state: self.state }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("tap-stripe").chain(args.iter().copied())).unwrap().command()
    }

    #[test]
    fn meltano_argument_combinations() {
        let discover = Command::Discover { config: vec!["c".into()] };
        assert_eq!(cmd(&["--config", "c", "--discover"]), discover);
        assert_eq!(cmd(&["--config", "c", "--catalog", "k", "--discover"]), discover);
        assert_eq!(cmd(&["--config", "c", "--state", "s", "--discover"]), discover);
        assert_eq!(
            cmd(&["--config", "c", "--catalog", "k", "--state", "s"]),
            Command::Sync { config: vec!["c".into()], catalog: Some("k".into()), state: Some("s".into()) }
        );
    }

    #[test]
    fn properties_is_the_legacy_catalog() {
        assert_eq!(
            cmd(&["-c", "c", "--properties", "k"]),
            Command::Sync { config: vec!["c".into()], catalog: Some("k".into()), state: None }
        );
        assert!(Cli::try_parse_from(["tap-stripe", "--catalog", "a", "--properties", "b"]).is_err());
    }

    #[test]
    fn config_files_accumulate() {
        assert_eq!(cmd(&["-c", "a", "-c", "b", "-d"]), Command::Discover { config: vec!["a".into(), "b".into()] });
    }
}
