//! PostgreSQL (`SELECT 1`) and Redis (`PING`).

use genesis_types::error_chain;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
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

/// Longest reply line read from Redis: an answer to AUTH or PING is a few bytes, and a
/// server that sends more without ending the line is not a Redis the check can trust.
const MAX_REPLY: u64 = 64 << 10;

/// One reply line without its line end, read up to [`MAX_REPLY`] bytes.
async fn read_reply(reader: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<String> {
    let mut line = Vec::new();
    let n = reader.take(MAX_REPLY).read_until(b'\n', &mut line).await?;
    if n as u64 == MAX_REPLY && !line.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a reply longer than {MAX_REPLY} bytes without a line end"),
        ));
    }
    Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned())
}

/// Sends one command (RESP, an array of bulk strings) and reads the reply line.
async fn ask(stream: &mut BufReader<TcpStream>, command: &[&str]) -> std::io::Result<String> {
    let mut wire = format!("*{}\r\n", command.len());
    for part in command {
        wire.push_str(&format!("${}\r\n{part}\r\n", part.len()));
    }
    stream.get_mut().write_all(wire.as_bytes()).await?;
    read_reply(stream).await
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
    // A query or fragment is not the address (and may hold a password: the detail names
    // the address).
    let host = host.split(['/', '?', '#']).next().unwrap_or(host).to_owned();
    bounded(&name, remedy, async {
        let stream = match TcpStream::connect(&host).await {
            Ok(s) => s,
            Err(e) => return Check::fail(&name, format!("cannot connect to {host}: {e}"), remedy),
        };
        // One stream both ways: each reply is read before the next command is written.
        let mut stream = BufReader::new(stream);
        if let Some(auth) = auth {
            let command = match auth.split_once(':') {
                Some((user, password)) if !user.is_empty() => vec!["AUTH", user, password],
                Some((_, password)) => vec!["AUTH", password],
                None => vec!["AUTH", auth],
            };
            match ask(&mut stream, &command).await {
                Ok(reply) if reply == "+OK" => {}
                Ok(reply) => {
                    return Check::fail(&name, format!("AUTH refused: {reply}"), "correct the password in redis.url");
                }
                Err(e) => return Check::fail(&name, format!("AUTH failed: {e}"), remedy),
            }
        }
        match ask(&mut stream, &["PING"]).await {
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

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;
    use crate::Status;

    #[tokio::test]
    async fn an_endless_reply_to_ping_fails_the_check_without_being_read_whole() {
        const SENT: usize = 100 << 20;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_write_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            let _ = conn.read(&mut [0; 64]); // the PING
            let piece = [b'+'; 64 << 10];
            let mut written = 0;
            while written < SENT && conn.write_all(&piece).is_ok() {
                written += piece.len();
            }
            written
        });
        let check = redis(&format!("redis://127.0.0.1:{port}")).await;
        assert_eq!(check.status, Status::Fail);
        let start: String = check.detail.chars().take(200).collect();
        assert!(check.detail.contains(&format!("longer than {MAX_REPLY} bytes")), "{start}");
        let written = server.join().unwrap();
        assert!(written < SENT / 4, "the check took {written} bytes of one reply");
    }
}
