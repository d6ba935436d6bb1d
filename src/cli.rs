/*!
The command line, Singer style (`--config`, `--discover`, `--catalog`/`--properties`, `--state`).

Only parsing lives here: [`Cli`] is turned into a [`Command`] and nothing else sees clap types.
Meltano passes `--state` and `--catalog` along with `--discover`; those are accepted and ignored.
*/

use clap::{Parser, Subcommand};

/// Singer tap and Airbyte source for Stripe: discover the catalog, or sync the selected streams
/// to stdout. Without a subcommand it speaks Singer; `spec`, `check`, `discover` and `read` speak
/// the Airbyte protocol.
#[derive(Debug, Parser)]
#[command(name = "tap-stripe", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub airbyte: Option<Airbyte>,

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

    /// Print what the tap is and can do (name, version, capabilities, settings) and exit.
    #[arg(long)]
    pub about: bool,

    /// Format of --about: text, json or markdown.
    #[arg(long, value_name = "FORMAT", requires = "about", default_value = "text")]
    pub format: AboutFormat,

    /// State file from a previous run (the value of its last STATE message): only objects
    /// created since are read.
    #[arg(short, long, value_name = "FILE")]
    pub state: Option<String>,

    /// Test the config and the streams, as Singer SDK taps do: `--test` (or `--test=all`) syncs
    /// one record per stream and stops, with no STATE (no bookmark moves); `--test=schema` prints
    /// the SCHEMA messages only, with no request. The streams are those `--catalog` selects, or
    /// every stream without a catalog; `--state` is ignored.
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "all", conflicts_with = "discover")]
    pub test: Option<TestMode>,
}

/// What `--test` checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TestMode {
    /// One record per stream (requests to Stripe).
    All,
    /// SCHEMA messages only (no request).
    Schema,
}

/// Formats of `--about`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AboutFormat {
    Text,
    Json,
    Markdown,
}

/// The Airbyte protocol's commands.
#[derive(Debug, Subcommand)]
pub enum Airbyte {
    /// Airbyte: print the connector specification (no config needed).
    Spec,
    /// Airbyte: check the config, the key, and which streams the key can read.
    Check {
        /// Config file (JSON).
        #[arg(long, value_name = "FILE")]
        config: String,
    },
    /// Airbyte: print the catalog (no network needed).
    Discover {
        /// Config file (JSON).
        #[arg(long, value_name = "FILE")]
        config: String,
    },
    /// Airbyte: read the streams of a configured catalog.
    Read {
        /// Config file (JSON).
        #[arg(long, value_name = "FILE")]
        config: String,
        /// ConfiguredAirbyteCatalog file.
        #[arg(long, value_name = "FILE")]
        catalog: String,
        /// State file: a JSON array of Airbyte state messages.
        #[arg(long, value_name = "FILE")]
        state: Option<String>,
    },
}

/// What the user asked for, independent of how it was spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the catalog.
    Discover { config: Vec<String> },
    /// Describe the tap.
    About { format: AboutFormat },
    /// Sync the streams the catalog selects.
    Sync { config: Vec<String>, catalog: Option<String>, state: Option<String> },
    /// `--test`: one record per stream, or the SCHEMA messages only.
    Test { config: Vec<String>, catalog: Option<String>, mode: TestMode },
    /// Airbyte `spec`.
    AirbyteSpec,
    /// Airbyte `check`.
    AirbyteCheck { config: String },
    /// Airbyte `discover`.
    AirbyteDiscover { config: String },
    /// Airbyte `read`.
    AirbyteRead { config: String, catalog: String, state: Option<String> },
}

impl Command {
    /// Whether the command speaks the Airbyte protocol (errors become TRACE messages).
    pub fn is_airbyte(&self) -> bool {
        !matches!(self, Command::Discover { .. } | Command::Sync { .. } | Command::Test { .. } | Command::About { .. })
    }
}

impl Cli {
    pub fn command(self) -> Command {
        if let Some(a) = self.airbyte {
            return match a {
                Airbyte::Spec => Command::AirbyteSpec,
                Airbyte::Check { config } => Command::AirbyteCheck { config },
                Airbyte::Discover { config } => Command::AirbyteDiscover { config },
                Airbyte::Read { config, catalog, state } => Command::AirbyteRead { config, catalog, state },
            };
        }
        if self.about {
            Command::About { format: self.format }
        } else if let Some(mode) = self.test {
            Command::Test { config: self.config, catalog: self.catalog.or(self.properties), mode }
        } else if self.discover {
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
    fn about_with_meltano_arguments() {
        assert_eq!(cmd(&["--about"]), Command::About { format: AboutFormat::Text });
        assert_eq!(cmd(&["--config", "c", "--catalog", "k", "--about", "--format", "json"]), Command::About { format: AboutFormat::Json });
        assert_eq!(cmd(&["--about", "--format=markdown"]), Command::About { format: AboutFormat::Markdown });
    }

    #[test]
    fn airbyte_subcommands() {
        assert_eq!(cmd(&["spec"]), Command::AirbyteSpec);
        assert_eq!(cmd(&["check", "--config", "c"]), Command::AirbyteCheck { config: "c".into() });
        assert_eq!(cmd(&["discover", "--config", "c"]), Command::AirbyteDiscover { config: "c".into() });
        assert_eq!(
            cmd(&["read", "--config", "c", "--catalog", "k", "--state", "s"]),
            Command::AirbyteRead { config: "c".into(), catalog: "k".into(), state: Some("s".into()) }
        );
        assert!(cmd(&["spec"]).is_airbyte() && !cmd(&["-d"]).is_airbyte());
    }

    #[test]
    fn test_flag_as_singer_sdk_spells_it() {
        let all = Command::Test { config: vec!["c".into()], catalog: None, mode: TestMode::All };
        assert_eq!(cmd(&["--config", "c", "--test"]), all);
        assert_eq!(cmd(&["--config", "c", "--test=all"]), all);
        assert_eq!(cmd(&["--test", "--config", "c"]), all);
        assert_eq!(
            cmd(&["--config", "c", "--catalog", "k", "--state", "s", "--test=schema"]),
            Command::Test { config: vec!["c".into()], catalog: Some("k".into()), mode: TestMode::Schema }
        );
        assert!(Cli::try_parse_from(["tap-stripe", "--test=everything"]).is_err());
        assert!(Cli::try_parse_from(["tap-stripe", "--test", "--discover"]).is_err());
        assert!(!cmd(&["--test"]).is_airbyte());
    }

    #[test]
    fn config_files_accumulate() {
        assert_eq!(cmd(&["-c", "a", "-c", "b", "-d"]), Command::Discover { config: vec!["a".into(), "b".into()] });
    }
}
