//! Reading the `Chart.yaml` of a packaged Helm chart (to record its version and check that
//! the spec names the chart it points at) and its `values.yaml` (for the image sweep).

use std::io::Read;
use std::path::Path;

use crate::{BuildError, Result};

/// Largest `Chart.yaml` or `values.yaml` read: Helm's own limit on one file of a chart
/// (`MaxDecompressedFileSize`). A larger one is an error, never read in part: a cut
/// `values.yaml` would hide the images it names from the sweep.
const MAX_CHART_YAML: u64 = 5 << 20;

/// The fields of `Chart.yaml` Genesis records.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ChartMeta {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
}

/// What the builder reads from a packaged chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartContents {
    /// `Chart.yaml`.
    pub meta: ChartMeta,
    /// `values.yaml`, when the chart has one.
    pub values: Option<String>,
}

/// Reads `<chart>/Chart.yaml` and `<chart>/values.yaml` from a packaged chart (`helm
/// package` output: a gzip tar with one top-level folder).
pub fn read_chart(path: &Path) -> Result<ChartContents> {
    let file = std::fs::File::open(path).map_err(|e| BuildError::input(path, format!("unreadable: {e}")))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let not_a_chart = |why: String| BuildError::input(path, format!("not a packaged Helm chart: {why}"));
    let (mut meta, mut values) = (None, None);
    for entry in archive.entries().map_err(|e| not_a_chart(e.to_string()))? {
        let entry = entry.map_err(|e| not_a_chart(e.to_string()))?;
        let entry_path = entry.path().map_err(|e| not_a_chart(e.to_string()))?.into_owned();
        let parts: Vec<_> = entry_path.components().collect();
        let name = parts.get(1).map(|p| p.as_os_str().to_string_lossy().into_owned());
        if parts.len() != 2 || !matches!(name.as_deref(), Some("Chart.yaml" | "values.yaml")) {
            continue;
        }
        let mut text = String::new();
        entry.take(MAX_CHART_YAML + 1).read_to_string(&mut text).map_err(|e| not_a_chart(e.to_string()))?;
        if text.len() as u64 > MAX_CHART_YAML {
            return Err(BuildError::input(
                path,
                format!(
                    "{} is larger than {} MiB, Helm's limit for one file of a chart",
                    entry_path.display(),
                    MAX_CHART_YAML >> 20
                ),
            ));
        }
        if name.as_deref() == Some("Chart.yaml") {
            meta = Some(serde_yaml_ng::from_str(&text).map_err(|e| not_a_chart(format!("Chart.yaml: {e}")))?);
        } else {
            values = Some(text);
        }
    }
    let meta = meta.ok_or_else(|| not_a_chart("no <chart>/Chart.yaml inside".into()))?;
    Ok(ChartContents { meta, values })
}
