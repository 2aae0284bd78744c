//! Progress bars on stderr for long work, drawn from a [`ProgressCounter`] the library updates.
//! Hidden when stderr is not a terminal or with `--quiet`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use genesis_bundle::ProgressCounter;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws a bar until dropped.
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a bar labelled `label` that follows `progress`.
pub fn show(progress: ProgressCounter, label: &'static str, quiet: bool) -> Bar {
    show_many(vec![(label.to_owned(), progress)], quiet)
}

/// Starts one bar per `(label, progress)`, stacked in that order (a load: the pass, then
/// one per image).
pub fn show_many(bars: Vec<(String, ProgressCounter)>, quiet: bool) -> Bar {
    let stop = Arc::new(AtomicBool::new(false));
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let thread = (!target.is_hidden()).then(|| {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let multi = MultiProgress::with_draw_target(target);
            let style = ProgressStyle::with_template(
                "{msg:>9} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> ");
            let drawn: Vec<(ProgressBar, ProgressCounter)> = bars
                .into_iter()
                .map(|(label, progress)| {
                    let bar = multi.add(ProgressBar::no_length().with_message(label).with_style(style.clone()));
                    (bar, progress)
                })
                .collect();
            while !stop.load(Ordering::Relaxed) {
                for (bar, progress) in &drawn {
                    // Nothing to draw until the library knows how much work there is.
                    if progress.total() > 0 {
                        bar.set_length(progress.total());
                        bar.set_position(progress.done());
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            for (bar, _) in drawn {
                bar.finish_and_clear();
            }
        })
    });
    Bar { stop, thread }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
