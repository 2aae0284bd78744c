//! PostgreSQL (`SELECT 1`) and Redis (`PING`).

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

use super::bounded;
use crate::Check;
use crate::spec::redact;

/// Connects with the URL's credentials and runs `SELECT 1`.
pub async fn postgres(url: &str) -> Check {
    let name = format!("postgres {}", redact(url));
    let remedy = "start PostgreSQL, or correct postgres.url (host, port, user, password, database)";
    bounded(&name, remedy, async {
        let (client, connection) = match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok(c) => c,
            Err(e) => return Check::fail(&name, format!("cannot connect: {}", error_chain(&e)), remedy),
        };
        let driver = tokio::spawn(connection);
        let answer = client.simple_query("SELECT 1").await;
        drop(client);
        let _ = driver.await;
        match answer {
            Ok(_) => Check::pass(&name, "connected; SELECT 1 answered"),
            Err(e) => Check::fail(&name, format!("SELECT 1 failed: {}", error_chain(&e)), remedy),
        }
    })
    .await
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `redis://[user:password@]host:port[/db]`: AUTH when a password is given, then PING.
pub async fn redis(url: &str) -> Check {
    let name = format!("redis {}", redact(url));
    let remedy = "start Redis, or correct redis.url (host, port, password)";
    let Some(rest) = url.strip_prefix("redis://") else {
        return Check::fail(&name, "the URL must start with redis://", "write redis.url as redis://host:port");
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    let host = host.split('/').next().unwrap_or(host).to_owned();
    bounded(&name, remedy, async {
        let stream = match TcpStream::connect(&host).await {
            Ok(s) => s,
            Err(e) => return Check::fail(&name, format!("cannot connect to {host}: {e}"), remedy),
        };
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut ask = async |command: Vec<&str>| -> std::io::Result<String> {
            let mut wire = format!("*{}\r\n", command.len());
            for part in command {
                wire.push_str(&format!("${}\r\n{part}\r\n", part.len()));
            }
            write.write_all(wire.as_bytes()).await?;
            Ok(lines.next_line().await?.unwrap_or_default())
        };
        if let Some(auth) = auth {
            let command = match auth.split_once(':') {
                Some((user, password)) if !user.is_empty() => vec!["AUTH", user, password],
                Some((_, password)) => vec!["AUTH", password],
                None => vec!["AUTH", auth],
            };
            match ask(command).await {
                Ok(reply) if reply == "+OK" => {}
                Ok(reply) => {
                    return Check::fail(&name, format!("AUTH refused: {reply}"), "correct the password in redis.url");
                }
                Err(e) => return Check::fail(&name, format!("AUTH failed: {e}"), remedy),
            }
        }
        match ask(vec!["PING"]).await {
            Ok(reply) if reply == "+PONG" => Check::pass(&name, "PING answered PONG"),
            Ok(reply) if reply.starts_with("-NOAUTH") => Check::fail(
                &name,
                format!("PING refused: {reply}"),
                "put the password in redis.url: redis://:PASSWORD@host:port",
            ),
            Ok(reply) => Check::fail(&name, format!("PING answered {reply:?}"), remedy),
            Err(e) => Check::fail(&name, format!("PING failed: {e}"), remedy),
        }
    })
    .await
}
