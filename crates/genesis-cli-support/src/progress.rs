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
    multi: MultiProgress,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a bar labelled `label` that follows `progress`.
pub fn show(progress: ProgressCounter, label: &'static str, quiet: bool) -> Bar {
    show_many(vec![(label.to_owned(), progress)], quiet)
}

/// Starts one bar per `(label, progress)`, stacked in that order (a load: the pass, then
/// one per image). A bar whose work has no known size yet (a registry-to-registry copy
/// learns its blobs as it goes) shows the bytes done and their rate.
pub fn show_many(bars: Vec<(String, ProgressCounter)>, quiet: bool) -> Bar {
    let stop = Arc::new(AtomicBool::new(false));
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let hidden = target.is_hidden();
    let multi = MultiProgress::with_draw_target(target);
    let thread = (!hidden).then(|| {
        let (stop, multi) = (Arc::clone(&stop), multi.clone());
        std::thread::spawn(move || {
            let sized = ProgressStyle::with_template(
                "{msg:>9} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> ");
            let counting = ProgressStyle::with_template("{msg:>9} {binary_bytes} {binary_bytes_per_sec}")
                .expect("a valid template");
            let drawn: Vec<(ProgressBar, ProgressCounter)> = bars
                .into_iter()
                .map(|(label, progress)| {
                    let bar = multi.add(ProgressBar::no_length().with_message(label).with_style(counting.clone()));
                    (bar, progress)
                })
                .collect();
            while !stop.load(Ordering::Relaxed) {
                for (bar, progress) in &drawn {
                    // A bar once the total is known, the bytes so far before that, and nothing
                    // while there is neither.
                    let (done, total) = (progress.done(), progress.total());
                    if total > 0 {
                        if bar.length().is_none() {
                            bar.set_style(sized.clone());
                        }
                        bar.set_length(total);
                        bar.set_position(done);
                    } else if done > 0 {
                        bar.set_position(done);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            for (bar, _) in drawn {
                bar.finish_and_clear();
            }
        })
    });
    Bar { multi, stop, thread }
}

impl Bar {
    /// Runs `print`, which writes lines on stderr while the bars are up, with the bars
    /// cleared, then draws them again below what it wrote (printed over, a line would be
    /// erased by the next redraw).
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        self.multi.suspend(print)
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
