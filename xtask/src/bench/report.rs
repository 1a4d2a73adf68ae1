//! The table of figures: as aligned text for the terminal and as Markdown.

/// Which way a figure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
}

/// How a figure is shown (values are kept in seconds, bytes and per-second counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Micros,
    Millis,
    PerSec,
    MiBPerSec,
    MiB,
    /// A share: 0.9 is 90%.
    Percent,
}

impl Unit {
    fn show(self, value: f64) -> String {
        const MIB: f64 = (1 << 20) as f64;
        match self {
            Unit::Micros => format!("{:.1} µs", value * 1e6),
            Unit::Millis => format!("{:.2} ms", value * 1e3),
            Unit::PerSec if value >= 10_000.0 => format!("{:.0} k/s", value / 1e3),
            Unit::PerSec => format!("{value:.0}/s"),
            Unit::MiBPerSec => format!("{:.0} MiB/s", value / MIB),
            Unit::MiB if value < 10.0 * MIB => format!("{:.2} MiB", value / MIB),
            Unit::MiB => format!("{:.1} MiB", value / MIB),
            Unit::Percent => format!("{:.0}%", value * 100.0),
        }
    }
}

/// The figure ours has to reach, in the row's own unit.
#[derive(Debug, Clone)]
pub struct Target {
    /// As the brief puts it, e.g. "≥ 4×".
    pub text: String,
    pub limit: f64,
    pub better: Better,
}

/// One measurement, both agents.
#[derive(Debug, Clone)]
pub struct Row {
    pub what: String,
    pub unit: Unit,
    pub ours: f64,
    pub qemu: f64,
    pub target: Target,
}

impl Row {
    /// Whether ours meets its target.
    pub fn met(&self) -> bool {
        match self.target.better {
            Better::Lower => self.ours <= self.target.limit,
            Better::Higher => self.ours >= self.target.limit,
        }
    }

    /// "yes", or "no" and how far ours is from its target (the change it needs).
    fn verdict(&self) -> String {
        if self.met() {
            "yes".to_owned()
        } else {
            let change = (self.target.limit / self.ours - 1.0) * 100.0;
            format!(
                "NO: needs {change:+.0}% ({})",
                self.unit.show(self.target.limit)
            )
        }
    }

    fn cells(&self) -> [String; 6] {
        [
            self.what.clone(),
            self.unit.show(self.ours),
            self.unit.show(self.qemu),
            format!("{:.2}×", self.ours / self.qemu),
            self.target.text.clone(),
            self.verdict(),
        ]
    }
}

const HEADER: [&str; 6] = [
    "measurement",
    "qga-agent",
    "qemu-ga",
    "ours/qemu-ga",
    "target",
    "met",
];

/// Whether a column holds numbers (right-aligned).
const NUMERIC: [bool; 6] = [false, true, true, true, false, false];

fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, width_: usize, right: bool) -> String {
    let fill = " ".repeat(width_.saturating_sub(width(text)));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// The rows as aligned text.
pub fn text(rows: &[Row]) -> String {
    let body: Vec<[String; 6]> = rows.iter().map(Row::cells).collect();
    let mut widths = HEADER.map(width);
    for cells in &body {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &[String; 6]| {
        let padded: Vec<String> = (0..6)
            .map(|i| pad(&cells[i], widths[i], NUMERIC[i]))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = line(&HEADER.map(str::to_owned));
    out.push('\n');
    out.push_str(&line(&widths.map(|w| "-".repeat(w))));
    out.push('\n');
    for cells in &body {
        out.push_str(&line(cells));
        out.push('\n');
    }
    out
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
    let mut out = line(&HEADER.map(str::to_owned));
    let rule: Vec<String> = NUMERIC
        .iter()
        .map(|&n| if n { "---:" } else { "---" }.to_owned())
        .collect();
    out.push_str(&line(&rule));
    for row in rows {
        out.push_str(&line(&row.cells()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ours: f64, better: Better, limit: f64) -> Row {
        Row {
            what: "x".into(),
            unit: Unit::PerSec,
            ours,
            qemu: 100.0,
            target: Target {
                text: "t".into(),
                limit,
                better,
            },
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(row(400.0, Better::Higher, 400.0).verdict(), "yes");
        assert_eq!(
            row(200.0, Better::Higher, 400.0).verdict(),
            "NO: needs +100% (400/s)"
        );
        assert_eq!(
            row(100.0, Better::Lower, 50.0).verdict(),
            "NO: needs -50% (50/s)"
        );
    }

    #[test]
    fn tables() {
        let rows = [row(400.0, Better::Higher, 400.0)];
        assert!(text(&rows)
            .lines()
            .nth(2)
            .unwrap()
            .ends_with("4.00×  t       yes"));
        assert!(markdown(&rows).ends_with("| x | 400/s | 100/s | 4.00× | t | yes |\n"));
    }
}
