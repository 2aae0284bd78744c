//! Which trust policy a command verifies with when it names no key: the file `--policy`
//! names, else the operator's installed policy (the file `GENESIS_POLICY` names, then
//! `$XDG_CONFIG_HOME/genesis/trust.yaml`, then `/etc/genesis/trust.yaml`), else the one a
//! vendor embedded in the binary at build time (`GENESIS_EMBEDDED_POLICY`, read by this
//! crate's build.rs). The first found is used whole: policies are never merged, so what a run
//! trusts is one file the operator can read, and the run names it. None found, the command
//! refuses, naming each place it looked: there is still no default trust, only trust
//! installed on purpose.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use genesis_trust::{TrustError, TrustPolicy, policy_file};

/// The variable naming the operator's policy file.
pub const POLICY_VAR: &str = "GENESIS_POLICY";

/// The host's policy, for every user.
pub const SYSTEM_POLICY: &str = "/etc/genesis/trust.yaml";

/// A policy embedded at build time: build.rs writes the value of [`EMBEDDED`]. (Public, so
/// that a build without one, where nothing else constructs it, is no dead code.)
#[derive(Debug)]
pub struct Embedded {
    /// The policy's file name at build time, to name it by.
    pub name: &'static str,
    /// The policy's text.
    pub text: &'static str,
    /// Each file the policy names (keys, trustedRoot), by the path as the policy writes it.
    pub files: &'static [(&'static str, &'static [u8])],
}

/// The policy this binary was built with, if `GENESIS_EMBEDDED_POLICY` named one.
pub static EMBEDDED: Option<Embedded> = include!(concat!(env!("OUT_DIR"), "/embedded_policy.rs"));

/// Where the policy a run verifies with came from; its `Display` is what the run prints
/// (`policy: …` on stderr, `"policy"` in JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// A file: named by `--policy` or `GENESIS_POLICY`, or installed for the user or the host.
    File(PathBuf),
    /// Embedded in the binary at build time, from a file of this name.
    Embedded(String),
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicySource::File(path) => write!(f, "{}", path.display()),
            PolicySource::Embedded(name) => write!(f, "embedded in this binary ({name})"),
        }
    }
}

/// The policy to verify with when no key is named: the file `flag` (`--policy`) names, else
/// the first found of `GENESIS_POLICY`, the user's, the host's and the embedded policy.
/// A file named (by the flag or the variable) must be there; an installed one is used when
/// it exists, and then must load. Nothing found: [`TrustError::NoPolicy`], listing the
/// places looked.
pub fn find(flag: Option<&Path>) -> Result<(TrustPolicy, PolicySource), TrustError> {
    match flag {
        Some(file) => load_file(file),
        None => find_installed(&|name: &str| std::env::var_os(name), Path::new(SYSTEM_POLICY), EMBEDDED.as_ref()),
    }
}

/// [`find`] without a flag, with the environment read through `var` (tests pass their own).
fn find_installed(
    var: &dyn Fn(&str) -> Option<OsString>,
    system: &Path,
    embedded: Option<&Embedded>,
) -> Result<(TrustPolicy, PolicySource), TrustError> {
    // Named on purpose, so it must be there: a typo falling through to another policy would
    // verify with trust the operator did not choose.
    if let Some(file) = var(POLICY_VAR).filter(|v| !v.is_empty()) {
        return load_file(Path::new(&file));
    }
    let mut looked = vec![format!("{POLICY_VAR} (unset)")];
    match user_policy(var) {
        Some(path) if present(&path) => return load_file(&path),
        Some(path) => looked.push(path.display().to_string()),
        None => looked.push("$XDG_CONFIG_HOME/genesis/trust.yaml (neither XDG_CONFIG_HOME nor HOME is set)".into()),
    }
    if present(system) {
        return load_file(system);
    }
    looked.push(system.display().to_string());
    match embedded {
        Some(embedded) => load_embedded(embedded),
        None => {
            looked.push("a policy embedded at build time (this binary has none)".into());
            Err(TrustError::NoPolicy { looked })
        }
    }
}

/// `$XDG_CONFIG_HOME/genesis/trust.yaml`, or `$HOME/.config/genesis/trust.yaml` when
/// `XDG_CONFIG_HOME` is unset, empty or relative (the XDG base directory specification
/// ignores a relative one); `None` without either.
fn user_policy(var: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| var("HOME").filter(|home| !home.is_empty()).map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("genesis").join("trust.yaml"))
}

/// Whether an installed policy is there to use. One that cannot be told absent (a directory
/// that cannot be read, or a symlink to nothing, as a policy on a volume not mounted is)
/// counts as there, so that loading it reports why, rather than a run silently trusting the
/// next place's policy.
fn present(path: &Path) -> bool {
    let dangling = path.ancestors().any(|p| p.symlink_metadata().is_ok_and(|m| m.is_symlink()) && !p.exists());
    dangling || !matches!(path.try_exists(), Ok(false))
}

fn load_file(path: &Path) -> Result<(TrustPolicy, PolicySource), TrustError> {
    Ok((policy_file::load(path)?, PolicySource::File(path.to_owned())))
}

/// Reads the embedded policy from memory; its files are named in errors as
/// `<embedded>/FILE`.
fn load_embedded(embedded: &Embedded) -> Result<(TrustPolicy, PolicySource), TrustError> {
    let origin = Path::new("<embedded>").join(embedded.name);
    let file = |name: &Path| embedded.files.iter().find(|(n, _)| Path::new(n) == name).map(|(_, bytes)| bytes.to_vec());
    let policy = policy_file::load_from_str(embedded.text, &origin, &file)?;
    Ok((policy, PolicySource::Embedded(embedded.name.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_user_policy_follows_the_xdg_base_directory_rules() {
        for (vars, expected) in [
            (&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")][..], Some("/x/genesis/trust.yaml")),
            (&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")][..], Some("/h/.config/genesis/trust.yaml")),
            (&[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")][..], Some("/h/.config/genesis/trust.yaml")),
            (&[("HOME", "/h")][..], Some("/h/.config/genesis/trust.yaml")),
            (&[("XDG_CONFIG_HOME", "/x")][..], Some("/x/genesis/trust.yaml")),
            (&[("HOME", "")][..], None),
            (&[][..], None),
        ] {
            assert_eq!(user_policy(&env(vars)), expected.map(PathBuf::from), "{vars:?}");
        }
    }

    /// Without the variable at build time, the generated code is `None`: a binary embeds a
    /// policy only when its vendor asked for one.
    #[test]
    fn a_policy_is_embedded_only_when_the_build_names_one() {
        let asked = option_env!("GENESIS_EMBEDDED_POLICY").is_some_and(|v| !v.is_empty());
        assert_eq!(EMBEDDED.is_some(), asked);
    }

    /// An embedded policy is read from memory, after every installed place, and named by
    /// its file name; a file it names but the build did not embed is refused, named.
    #[test]
    fn the_embedded_policy_comes_last_and_is_read_from_memory() {
        let key = genesis_trust::PrivateKey::generate().public_key();
        let pem: &'static [u8] = Box::leak(key.to_pem().into_bytes().into_boxed_slice());
        let files: &'static [(&'static str, &'static [u8])] = Box::leak(Box::new([("vendor.pub", pem)]));
        let embedded = Embedded { name: "acme.yaml", text: "keys: [vendor.pub]\nnames: ['acme-*']\n", files };
        let nowhere = Path::new("/nonexistent-genesis-test/etc/trust.yaml");
        let vars = [("HOME", "/nonexistent-genesis-test/home")];
        let (policy, source) = find_installed(&env(&vars), nowhere, Some(&embedded)).unwrap();
        assert_eq!(source, PolicySource::Embedded("acme.yaml".into()));
        assert_eq!(source.to_string(), "embedded in this binary (acme.yaml)");
        assert_eq!(policy.keys(), [key]);

        let missing = Embedded { name: "acme.yaml", text: "keys: [vendor.pub, other.pub]\n", files };
        let e = find_installed(&env(&vars), nowhere, Some(&missing)).unwrap_err().to_string();
        assert!(e.contains("<embedded>/other.pub") && e.contains("not embedded"), "{e}");
    }

    /// A user policy that is a symlink to nothing (or under a folder that is one) is reported,
    /// never passed over for the system's or the embedded policy.
    #[test]
    fn a_dangling_link_at_a_policy_place_is_reported_not_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("system.yaml");
        std::fs::write(dir.path().join("vendor.pub"), genesis_trust::PrivateKey::generate().public_key().to_pem())
            .unwrap();
        std::fs::write(&system, "keys: [vendor.pub]\n").unwrap();
        let xdg = dir.path().join("xdg");
        std::fs::create_dir_all(xdg.join("genesis")).unwrap();
        std::os::unix::fs::symlink("/nonexistent-genesis-test/trust.yaml", xdg.join("genesis/trust.yaml")).unwrap();
        let linked_folder = dir.path().join("xdg2");
        std::fs::create_dir_all(&linked_folder).unwrap();
        std::os::unix::fs::symlink("/nonexistent-genesis-test/genesis", linked_folder.join("genesis")).unwrap();
        for config in [&xdg, &linked_folder] {
            let config = config.to_str().unwrap();
            let found = find_installed(&env(&[("XDG_CONFIG_HOME", config)]), &system, None);
            let e = found.err().unwrap_or_else(|| panic!("{config}: the system policy was used instead"));
            assert!(e.to_string().contains(config), "{e}");
        }
    }

    /// With nothing installed and nothing embedded, the refusal names every place, in order.
    #[test]
    fn nothing_found_names_every_place_looked_at() {
        let nowhere = Path::new("/nonexistent-genesis-test/etc/trust.yaml");
        let vars = [("XDG_CONFIG_HOME", "/nonexistent-genesis-test/xdg")];
        let e = find_installed(&env(&vars), nowhere, None).unwrap_err();
        let TrustError::NoPolicy { looked } = &e else { panic!("{e}") };
        assert_eq!(
            looked,
            &[
                "GENESIS_POLICY (unset)",
                "/nonexistent-genesis-test/xdg/genesis/trust.yaml",
                "/nonexistent-genesis-test/etc/trust.yaml",
                "a policy embedded at build time (this binary has none)",
            ]
        );
    }
}
