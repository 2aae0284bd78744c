//! The image's distribution, from its os-release file (os-release(5), freedesktop.org):
//! newline-separated `KEY=value` assignments whose values follow shell quoting, so that
//! `ID=debian`, `ID="debian"` and `ID='debian'` all read `debian`.

use crate::package::Distro;

/// The distribution an os-release file describes. Lines that are not assignments, and
/// assignments whose quoting is broken, are ignored; `ID` defaults to `linux`, as
/// os-release(5) says.
pub(crate) fn parse(bytes: &[u8]) -> Distro {
    let text = String::from_utf8_lossy(bytes);
    let mut distro = Distro { id: "linux".into(), version_id: None, version_codename: None, pretty_name: None };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else { continue };
        let Some(value) = unquote(raw).filter(|value| !value.is_empty()) else { continue };
        match key {
            "ID" => distro.id = value,
            "VERSION_ID" => distro.version_id = Some(value),
            "VERSION_CODENAME" => distro.version_codename = Some(value),
            "PRETTY_NAME" => distro.pretty_name = Some(value),
            _ => {}
        }
    }
    distro
}

/// A shell word as `sh` would read it: single quotes keep everything up to the next one,
/// double quotes let a backslash escape `$`, `` ` ``, `"` and `\` (and keep it before
/// anything else), a backslash outside quotes escapes the next character, quoted and
/// unquoted parts concatenate, and unquoted blank ends the word. `None` when a quote is left
/// open or a backslash ends the line.
fn unquote(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => {
                        let escaped = chars.next()?;
                        if !matches!(escaped, '$' | '`' | '"' | '\\') {
                            out.push('\\');
                        }
                        out.push(escaped);
                    }
                    c => out.push(c),
                }
            },
            '\\' => out.push(chars.next()?),
            c if c.is_whitespace() => break,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_of(text: &str) -> String {
        parse(text.as_bytes()).id
    }

    /// Debian 12's `/usr/lib/os-release`, as on this machine.
    #[test]
    fn debians_file_gives_id_version_codename_and_pretty_name() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
                    VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n";
        assert_eq!(
            parse(text.as_bytes()),
            Distro {
                id: "debian".into(),
                version_id: Some("12".into()),
                version_codename: Some("bookworm".into()),
                pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
            }
        );
    }

    #[test]
    fn single_double_and_unquoted_values_read_the_same() {
        assert_eq!(id_of("ID=alpine"), "alpine");
        assert_eq!(id_of("ID=\"alpine\""), "alpine");
        assert_eq!(id_of("ID='alpine'"), "alpine");
        assert_eq!(id_of("ID=al'pi'\"ne\""), "alpine");
    }

    #[test]
    fn backslashes_escape_as_the_shell_says() {
        assert_eq!(
            parse(br#"PRETTY_NAME="a \"quoted\" \$word \\ and \n kept""#).pretty_name.as_deref(),
            Some(r#"a "quoted" $word \ and \n kept"#)
        );
        assert_eq!(parse(br"PRETTY_NAME='no \escape here'").pretty_name.as_deref(), Some(r"no \escape here"));
        assert_eq!(parse(br"PRETTY_NAME=two\ words").pretty_name.as_deref(), Some("two words"));
    }

    #[test]
    fn comments_blank_lines_unknown_keys_and_broken_quotes_are_ignored() {
        let distro = parse(b"# a comment\n\nFOO=bar\nVERSION_ID=\"3.18\nno equals sign\nID=alpine # trailing\r\n");
        assert_eq!(distro.id, "alpine");
        assert_eq!(distro.version_id, None);
    }

    #[test]
    fn a_file_without_id_names_linux_as_os_release_says() {
        assert_eq!(id_of("VERSION_ID=1\n"), "linux");
        assert_eq!(id_of(""), "linux");
        assert_eq!(id_of("ID=\n"), "linux");
    }

    #[test]
    fn bytes_that_are_not_utf8_do_not_stop_the_parse() {
        assert_eq!(parse(b"PRETTY_NAME=\"caf\xe9\"\nID=x\n").id, "x");
    }
}
