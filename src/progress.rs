//! Progress on stderr while roster reads or writes: one line per task, drawn only when stderr
//! is a terminal (and not under `--quiet` or `-v`, whose log lines would tear through it).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The set of progress lines of one command.
#[derive(Clone)]
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
    /// Bold labels; off under `--no-color` or `NO_COLOR`.
    styled: bool,
}

impl Progress {
    /// Progress lines when stderr is a terminal and `enabled`; their labels bold unless
    /// colours are off for stderr.
    pub(crate) fn new(enabled: bool) -> Progress {
        let multi = (enabled && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let styled =
            anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never;
        Progress { multi, styled }
    }

    /// A new line: `label` and a count that grows (with a total once `set_total` knows it).
    pub(crate) fn task(&self, label: &str) -> Task {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(style(self.styled, "{spinner} {prefix:.bold} {msg}"));
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Task {
            bar,
            styled: self.styled,
        }
    }
}

/// A line's style from its template; without colours the label is not bold either.
fn style(styled: bool, template: &str) -> ProgressStyle {
    let template = if styled {
        template.to_owned()
    } else {
        template.replace("{prefix:.bold}", "{prefix}")
    };
    ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// One progress line.
#[derive(Clone)]
pub(crate) struct Task {
    bar: Option<ProgressBar>,
    /// Bold labels (see `Progress`).
    styled: bool,
}

impl Task {
    /// What is being read now, e.g. `users`.
    pub(crate) fn step(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_owned());
            bar.set_position(0);
            bar.set_length(0);
            bar.set_style(style(self.styled, "{spinner} {prefix:.bold} {msg} {pos}"));
        }
    }

    /// The step's total, when the API tells it.
    pub(crate) fn set_total(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_style(style(
                self.styled,
                "{spinner} {prefix:.bold} {msg} {wide_bar} {pos}/{len}",
            ));
        }
    }

    /// Grows the step's total by `n` (work found on the way, e.g. a freeze after a refusal).
    pub(crate) fn add_total(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc_length(n);
        }
    }

    pub(crate) fn add(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    pub(crate) fn finish(&self, summary: &str) {
        if let Some(bar) = &self.bar {
            bar.set_style(style(self.styled, "  {prefix:.bold} {msg}"));
            bar.finish_with_message(summary.to_owned());
        }
    }
}
