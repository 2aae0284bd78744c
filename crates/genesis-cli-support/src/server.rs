//! The limit flags of every command that serves (`bundle-loader serve`, `genesis-portal
//! serve`): one definition, so both servers take the same flags with the same help.

use std::num::NonZeroUsize;

use genesis_registry::serve::ServerLimits;

/// How many clients a server takes at once.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Connections served at once. Past it, a new connection takes the place of one of the
    /// address holding the most when its own holds at least two fewer, else of one that has
    /// been waiting on its client for a second (an idle socket, a request never completed, a
    /// client that stopped reading), else it is closed. Each connection holds a descriptor:
    /// with --max-streams and 64 more, keep it within the open-file limit (`ulimit -n`), or
    /// the server lowers both to fit.
    #[arg(long, value_name = "N", default_value_t = ServerLimits::default().max_connections)]
    pub max_connections: NonZeroUsize,
    /// Connections one client address (an IPv4 address, an IPv6 /64) may hold at once; past
    /// it, its new connection takes the place of one of its own that has been waiting on its
    /// client for a second, else it is closed. Default: an eighth of --max-connections.
    #[arg(long, value_name = "N")]
    pub max_connections_per_peer: Option<NonZeroUsize>,
    /// Responses in progress at once, over all connections (HTTP/2 carries up to 16 on one);
    /// past it a request is answered 503 with Retry-After. Default: --max-connections.
    #[arg(long, value_name = "N")]
    pub max_streams: Option<NonZeroUsize>,
}

impl ServerArgs {
    /// The server limits these flags describe.
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            max_connections: self.max_connections,
            max_connections_per_peer: self
                .max_connections_per_peer
                .unwrap_or_else(|| ServerLimits::connections_per_peer(self.max_connections)),
            max_streams: self.max_streams.unwrap_or(self.max_connections),
            ..ServerLimits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    #[test]
    fn responses_in_progress_default_to_the_connections_allowed() {
        let limits = Cli::parse_from(["serve", "--max-connections", "1000"]).server.limits();
        assert_eq!((limits.max_connections.get(), limits.max_streams.get()), (1000, 1000));
        let limits = Cli::parse_from(["serve", "--max-streams", "50"]).server.limits();
        assert_eq!((limits.max_connections, limits.max_streams.get()), (ServerLimits::default().max_connections, 50));
    }

    #[test]
    fn a_peer_may_hold_an_eighth_of_the_connections_by_default() {
        let limits = Cli::parse_from(["serve", "--max-connections", "1000"]).server.limits();
        assert_eq!(limits.max_connections_per_peer.get(), 125);
        let limits = Cli::parse_from(["serve", "--max-connections", "4"]).server.limits();
        assert_eq!(limits.max_connections_per_peer.get(), 1, "at least one");
        let limits = Cli::parse_from(["serve", "--max-connections-per-peer", "7"]).server.limits();
        assert_eq!(limits.max_connections_per_peer.get(), 7);
        assert_eq!(Cli::parse_from(["serve"]).server.limits(), ServerLimits::default());
    }

    #[test]
    fn the_help_names_the_streams_one_http2_connection_carries() {
        assert_eq!(genesis_registry::serve::MAX_STREAMS_PER_CONNECTION, 16, "the --max-streams help says 16");
    }
}
