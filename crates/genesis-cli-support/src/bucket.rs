//! Bundles in a bucket (issue 16, the S3 diode pipeline): `s3://BUCKET/PREFIX/NAME.tar.zst`
//! wherever a bundle is read, opened in place with ranged GETs (`genesis_objstore::BucketFolder`),
//! and the flags that say how the bucket is reached. Seed 002's rules: the endpoint comes from
//! `--s3-endpoint`, else `GENESIS_S3_ENDPOINT`; the credentials from `--s3-access-key-id` or
//! `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (never a flag), never from a cloud's metadata
//! endpoint; the endpoint is announced before it is contacted.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use genesis_bundle::{ArchiveFile, BundleError};
use genesis_objstore::{AzureConfig, BucketFolder, ObjectStoreConfig, S3Config, SecretVariables};

/// The scheme of a bundle in a bucket.
const S3: &str = "s3://";

/// How an `s3://` bundle's bucket is reached.
#[derive(Debug, Clone, clap::Args)]
pub struct BucketArgs {
    /// The S3 endpoint of `s3://` bundles (a landing bucket's service, MinIO, Ceph); AWS's for
    /// the region when not given.
    #[arg(long, value_name = "URL", env = "GENESIS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region.
    #[arg(long, value_name = "REGION", env = "AWS_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// The access key id; its secret is read from AWS_SECRET_ACCESS_KEY (and a session token
    /// from AWS_SESSION_TOKEN), never from a flag.
    #[arg(long, value_name = "ID", env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,
    /// Allow a plain http:// endpoint: the bundle is still verified, but the credentials'
    /// signatures and the bytes cross the network unencrypted. Only for a network you trust.
    #[arg(long)]
    pub s3_allow_http: bool,
}

/// No endpoint, credentials or plain HTTP: for a command that reads bundles on disk only.
impl Default for BucketArgs {
    fn default() -> BucketArgs {
        BucketArgs { s3_endpoint: None, s3_region: "us-east-1".into(), s3_access_key_id: None, s3_allow_http: false }
    }
}

/// Whether `bundle` names a bundle in a bucket.
pub fn in_bucket(bundle: &Path) -> bool {
    bundle.to_str().is_some_and(|b| b.starts_with(S3))
}

impl BucketArgs {
    /// The store of the folder `url` (`s3://BUCKET[/PREFIX]`) names.
    pub fn config(&self, url: &str) -> ObjectStoreConfig {
        ObjectStoreConfig {
            url: url.to_owned(),
            s3: S3Config {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secrets: SecretVariables::AWS,
                allow_http: self.s3_allow_http,
            },
            azure: AzureConfig { account: None, endpoint: None, allow_http: false },
        }
    }

    /// What a run reading `bundle` contacts: the S3 endpoint when it is in a bucket.
    pub fn endpoints(&self, bundle: &Path) -> Vec<String> {
        if in_bucket(bundle) { vec![self.config("s3://bucket").s3.endpoint()] } else { Vec::new() }
    }

    /// Opens the bundle `bundle` (`s3://BUCKET/PREFIX/NAME`: the archive, its parts manifest
    /// or a part) in its bucket, read in place by ranges.
    pub fn open(&self, bundle: &Path) -> Result<ArchiveFile, BundleError> {
        let url = bundle.to_str().unwrap_or_default();
        let unusable =
            |e: String| BundleError::Io { action: "opening", path: bundle.to_owned(), source: io::Error::other(e) };
        let (folder, name) = url
            .strip_prefix(S3)
            .and_then(|rest| rest.rsplit_once('/'))
            .filter(|(bucket, name)| !bucket.is_empty() && !name.is_empty())
            .ok_or_else(|| unusable("name a bundle in a bucket as s3://BUCKET/PREFIX/NAME.tar.zst".into()))?;
        let folder = BucketFolder::open(&self.config(&format!("{S3}{folder}"))).map_err(|e| unusable(e.to_string()))?;
        ArchiveFile::open_remote(Arc::new(folder), name)
    }
}

/// The sidecars of the archive `bundle` (named `name`) that exist beside it, each with its
/// name relative to the archive's folder: the `.sha256`, `.sig` and `.cosign.bundle`, the files
/// the `.sha256` lists beside it (the release evidence report), and its countersignatures
/// (`NAME.countersig/*`). What travels with the archive, or with its parts.
pub fn sidecars(bundle: &Path, name: &str) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let folder = bundle.parent().unwrap_or(Path::new(""));
    let (sha256, signature) = genesis_trust::sidecar_paths(bundle);
    let mut files = vec![sha256.clone(), signature, genesis_trust::cosign_bundle_path(bundle)];
    match std::fs::read_to_string(&sha256) {
        Ok(text) => {
            let listed = genesis_trust::listed_files(&text, name)
                .map_err(|reason| anyhow::anyhow!("{}: {reason}", sha256.display()))?;
            for file in listed {
                let path = folder.join(&file.name);
                if !path.is_file() {
                    anyhow::bail!("{} lists {}, which is not beside the archive", sha256.display(), file.name);
                }
                files.push(path);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", sha256.display())),
    }
    let mut found: Vec<(PathBuf, String)> = files
        .into_iter()
        .filter(|file| file.is_file())
        .filter_map(|file| Some((file.clone(), file.file_name()?.to_str()?.to_owned())))
        .collect();
    let countersignatures = genesis_trust::countersignature_folder(bundle);
    if let (Ok(entries), Some(folder_name)) = (std::fs::read_dir(&countersignatures), countersignatures.file_name()) {
        let folder_name = folder_name.to_string_lossy().into_owned();
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", countersignatures.display()))?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                found.push((entry.path(), format!("{folder_name}/{file_name}")));
            }
        }
    }
    Ok(found)
}

/// What [`BucketArgs::push`] did with each file.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pushed {
    /// The object's address.
    pub object: String,
    /// Its size.
    pub size: u64,
    /// Whether it was sent (`false`: an object of its name and size was already there, from
    /// an earlier run).
    pub sent: bool,
}

impl BucketArgs {
    /// Uploads `files` (local path, name) under the folder `target` (`s3://BUCKET[/PREFIX]`),
    /// each a multipart upload that completes atomically, so an interrupted run leaves only
    /// whole objects. A file `resumable` names is not sent again when an object of its name and
    /// size is there (a re-run after an interruption); every other file is always sent, so the
    /// small ones that vouch for the large (sidecars, the parts manifest and its signatures) are
    /// always this run's, and a stale large object fails the landing side's verification
    /// rather than passing for this release. `each` hears every file as it is done.
    pub fn push(
        &self,
        files: &[(PathBuf, String)],
        target: &str,
        resumable: &dyn Fn(&str) -> bool,
        mut each: impl FnMut(&Pushed),
    ) -> anyhow::Result<Vec<Pushed>> {
        let target = target.trim_end_matches('/');
        if !target.strip_prefix(S3).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')) {
            anyhow::bail!("{target}: push to a folder of a bucket, s3://BUCKET/PREFIX/");
        }
        let config = self.config(target);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let storage = runtime.block_on(config.open())?;
        let mut pushed = Vec::with_capacity(files.len());
        for (local, name) in files {
            let size = std::fs::metadata(local).with_context(|| format!("reading {}", local.display()))?.len();
            let there = match resumable(name) {
                true => runtime.block_on(storage.stat(name))?,
                false => None,
            };
            let sent = there.is_none_or(|version| version.size != size);
            if sent {
                runtime.block_on(storage.put_file(name, local))?;
            }
            let done = Pushed { object: format!("{target}/{name}"), size, sent };
            each(&done);
            pushed.push(done);
        }
        Ok(pushed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_s3_url_is_a_bundle_in_a_bucket_and_one_without_a_name_is_refused() {
        assert!(in_bucket(Path::new("s3://landing/vendor/demo.tar.zst")));
        assert!(!in_bucket(Path::new("landing/demo.tar.zst")));
        let args = BucketArgs {
            s3_endpoint: Some("http://127.0.0.1:9".into()),
            s3_region: "us-east-1".into(),
            s3_access_key_id: Some("id".into()),
            s3_allow_http: true,
        };
        assert_eq!(args.endpoints(Path::new("s3://landing/demo.tar.zst")), ["http://127.0.0.1:9"]);
        assert!(args.endpoints(Path::new("demo.tar.zst")).is_empty());
        for bad in ["s3://landing", "s3:///demo.tar.zst", "s3://landing/"] {
            let e = args.open(Path::new(bad)).unwrap_err().to_string();
            assert!(e.contains("s3://BUCKET/PREFIX/NAME.tar.zst"), "{bad}: {e}");
        }
    }
}
