//! From pieces of a file to its text, on as many threads as asked.
//!
//! A backend describes its file as pieces, in order: each builds the shapes of a few
//! items (a definition's worth, or one big item), at the top level or inside the
//! module or trait that a piece opened before it. Runs of pieces are built and
//! printed on the threads, a run at a time, and their shapes dropped as soon as
//! they are printed: each item by the direct printer, or by the reference printer
//! when the direct one gives up on it or `Options::reference_printer` asks (see
//! `print`). The runs' texts are then put together with the blank lines between
//! them that `shape::separated` puts between items, and the lines that open and
//! close each module or trait. The text is the same whatever the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::context::{Context, Shared};
use super::print::pretty::{self, Wrap};
use super::print::text;
use super::shape::{self, Item, Seam};
use super::Options;
use crate::model::Schema;

/// Where a piece's items go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// At the top level of the file.
    Top,
    /// A module or trait (one item with no items of its own), which the `InMod` or
    /// `InTrait` pieces that follow fill up to the next `Top` or `Open` piece.
    Open,
    /// Inside the module opened last.
    InMod,
    /// Inside the trait opened last.
    InTrait,
}

type Build<'a> = Box<dyn Fn(&Context<'a>) -> Vec<Item<'a>> + Send + Sync + 'a>;

/// A part of a file and how to build its shapes.
pub struct Piece<'a> {
    place: Place,
    /// About how many definitions' worth of shapes the piece builds.
    weight: usize,
    build: Build<'a>,
}

impl<'a> Piece<'a> {
    /// A piece of about one definition's worth of code.
    pub fn new(
        place: Place,
        build: impl Fn(&Context<'a>) -> Vec<Item<'a>> + Send + Sync + 'a,
    ) -> Self {
        Piece::weighing(place, 1, build)
    }

    /// A piece of about `weight` definitions' worth of code (one line per command,
    /// say), so that it is built on its own and early.
    pub fn weighing(
        place: Place,
        weight: usize,
        build: impl Fn(&Context<'a>) -> Vec<Item<'a>> + Send + Sync + 'a,
    ) -> Self {
        Piece {
            place,
            weight,
            build: Box::new(build),
        }
    }
}

/// Pieces are built and printed this many definitions' worth at a time: enough to
/// make the cost of sharing the work small, few enough to share it among threads.
const CHUNK_WEIGHT: usize = 16;

/// The text of a run of pieces, with what is at each end of it.
struct Printed {
    text: String,
    /// The first and the last item, unless the run has none.
    ends: Option<(Seam, Seam)>,
}

/// The formatted text of each file, after `prefix` (its header), and the result of
/// `side`, which the calling thread computes while other threads start on the files.
pub fn render<'a, T>(
    schema: &'a Schema,
    options: &Options,
    shared: &'a Shared,
    files: &[Vec<Piece<'a>>],
    prefix: &str,
    side: impl FnOnce() -> T,
) -> (Vec<String>, T) {
    // Made first, on the calling thread, so that bad options panic here with their
    // message (as documented on the backends), not in a worker.
    let cx = Context::new(schema, options, shared);
    let mut runs: Vec<(usize, Chunk<'_, Piece<'a>>)> = Vec::new();
    for (file, pieces) in files.iter().enumerate() {
        // A run holds pieces of one place; each `Open` piece is a run of its own.
        let mut start = 0;
        while start < pieces.len() {
            let place = pieces[start].place;
            let end = match place {
                Place::Open => start + 1,
                _ => pieces[start..]
                    .iter()
                    .position(|p| p.place != place)
                    .map_or(pieces.len(), |n| start + n),
            };
            let chunked = chunks(&pieces[start..end], CHUNK_WEIGHT, |p| p.weight);
            runs.extend(chunked.into_iter().map(|chunk| (file, chunk)));
            start = end;
        }
    }
    let chunks: Vec<Chunk<'_, Piece<'a>>> = runs.iter().map(|(_, chunk)| *chunk).collect();
    let reference = options.reference_printer;
    let (printed, side) = parallel(options.thread_count(), &chunks, side, |pieces| {
        print_run(&cx, pieces, reference)
    });
    let mut texts: Vec<String> = files.iter().map(|_| prefix.to_owned()).collect();
    let mut files_runs: Vec<Vec<(Place, Printed)>> = files.iter().map(|_| Vec::new()).collect();
    for ((file, chunk), printed) in runs.iter().zip(printed) {
        files_runs[*file].push((chunk.jobs[0].place, printed));
    }
    for (text, runs) in texts.iter_mut().zip(files_runs) {
        join(text, runs);
    }
    (texts, side)
}

/// Builds and prints a run of pieces of one place.
fn print_run<'a>(cx: &Context<'a>, pieces: &[Piece<'a>], reference: bool) -> Printed {
    let mut items = Vec::new();
    for piece in pieces {
        for item in (piece.build)(cx) {
            shape::push(&mut items, item);
        }
    }
    let ends = items
        .first()
        .zip(items.last())
        .map(|(first, last)| (Seam::of(first), Seam::of(last)));
    let mut text = String::with_capacity(1024 * pieces.len());
    match pieces[0].place {
        Place::Open => {
            let [item @ (Item::Mod(c) | Item::Trait(c))] = items.as_slice() else {
                panic!("qapi-gen: an Open piece builds one module or trait");
            };
            if reference || !text::head(cx, c, 0, &mut text) {
                text.push_str(&pretty::head(cx, item, &[]));
            }
        }
        place => {
            let wrap = match place {
                Place::InMod => Some(Wrap::Mod),
                Place::InTrait => Some(Wrap::Trait),
                Place::Top | Place::Open => None,
            };
            for item in &items {
                print(cx, item, wrap, reference, &mut text);
            }
        }
    }
    Printed { text, ends }
}

/// An item at the top level or, with the stand-in of its container, inside a module
/// or trait, by the direct printer unless it gives up or `reference`.
fn print(cx: &Context<'_>, item: &Item<'_>, wrap: Option<Wrap>, reference: bool, out: &mut String) {
    if let Item::Blank = item {
        return out.push('\n');
    }
    let indent = if wrap.is_some() { 4 } else { 0 };
    if reference || !text::item(cx, item, indent, out) {
        out.push_str(&pretty::item(cx, item, wrap.as_slice()));
    }
}

/// Puts a file's runs together: with a blank line where [`shape::separated`] puts
/// one between the items that meet, and each module or trait closed after the last
/// run inside it (or written `head {}` when it holds nothing).
fn join(out: &mut String, runs: Vec<(Place, Printed)>) {
    out.reserve(runs.iter().map(|(_, p)| p.text.len() + 2).sum());
    // The last item at the top level, and inside the open module or trait.
    let mut top: Option<Seam> = None;
    let mut inside: Option<Option<Seam>> = None;
    let close = |out: &mut String, inside: &mut Option<Option<Seam>>, top: &mut Option<Seam>| {
        match inside.take() {
            Some(None) => {
                // `head {` → `head {}`.
                out.pop();
                out.push_str("}\n");
            }
            Some(Some(_)) => out.push_str("}\n"),
            None => return,
        }
        *top = Some(Seam::Other);
    };
    for (place, printed) in runs {
        let Some((first, last)) = printed.ends else {
            continue;
        };
        let last_here = match place {
            Place::InMod | Place::InTrait => match &mut inside {
                Some(last) => last,
                None => panic!("qapi-gen: items inside no module or trait"),
            },
            Place::Top | Place::Open => {
                close(out, &mut inside, &mut top);
                &mut top
            }
        };
        if last_here.is_some_and(|prev| shape::separated(prev, first)) {
            out.push('\n');
        }
        out.push_str(&printed.text);
        *last_here = Some(last);
        if place == Place::Open {
            inside = Some(None);
        }
    }
    close(out, &mut inside, &mut top);
}

/// Consecutive jobs, of about `limit` in weight together.
struct Chunk<'j, J> {
    jobs: &'j [J],
    weight: usize,
}

impl<J> Clone for Chunk<'_, J> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<J> Copy for Chunk<'_, J> {}

/// Consecutive jobs grouped so that a group weighs about `limit` (each job at least
/// 1), a heavier job alone.
fn chunks<J>(jobs: &[J], limit: usize, weight: impl Fn(&J) -> usize) -> Vec<Chunk<'_, J>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < jobs.len() {
        let mut total = weight(&jobs[start]).max(1);
        let mut end = start + 1;
        while end < jobs.len() && total + weight(&jobs[end]).max(1) <= limit {
            total += weight(&jobs[end]).max(1);
            end += 1;
        }
        chunks.push(Chunk {
            jobs: &jobs[start..end],
            weight: total,
        });
        start = end;
    }
    chunks
}

/// `work` on each chunk, in order, on up to `threads` threads, the heaviest chunks
/// first so that no thread is left with a big one at the end; `side` on the calling
/// thread, first.
fn parallel<J: Sync, R: Send, T>(
    threads: usize,
    chunks: &[Chunk<'_, J>],
    side: impl FnOnce() -> T,
    work: impl Fn(&[J]) -> R + Sync,
) -> (Vec<R>, T) {
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(chunks[i].weight));
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            done.push((i, work(chunks[i].jobs)));
        }
        done
    };
    let threads = threads.min(chunks.len()).max(1);
    let (mut done, side) = if threads == 1 {
        let side = side();
        (run(), side)
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
            let side = side();
            let mut done = run();
            for worker in workers {
                match worker.join() {
                    Ok(more) => done.extend(more),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            (done, side)
        })
    };
    done.sort_unstable_by_key(|(i, _)| *i);
    (done.into_iter().map(|(_, r)| r).collect(), side)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::{dispatch, types};

    /// The items of `schema`'s Rust files that the direct printer gives up on, as
    /// the reference printer writes them.
    fn given_up(schema: &Schema, options: &Options) -> Vec<String> {
        let shared = Shared::new(schema);
        let cx = Context::new(schema, options, &shared);
        let mut out = Vec::new();
        for piece in types::pieces(schema)
            .iter()
            .chain(&dispatch::pieces(schema))
        {
            let indent = if matches!(piece.place, Place::InMod | Place::InTrait) {
                4
            } else {
                0
            };
            for item in (piece.build)(&cx) {
                let written = match &item {
                    Item::Mod(c) | Item::Trait(c) if piece.place == Place::Open => {
                        text::head(&cx, c, 0, &mut String::new())
                    }
                    _ => text::item(&cx, &item, indent, &mut String::new()),
                };
                if !written {
                    out.push(pretty::item(&cx, &item, &[]));
                }
            }
        }
        out
    }

    #[test]
    fn the_direct_printer_writes_the_projects_schema_itself() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let schema = crate::load(&root.join("../qga-schema.json")).expect("a valid schema");
        for options in [
            Options::default(),
            Options {
                runtime: "qga_types".into(),
                ..Options::default()
            },
        ] {
            let given_up = given_up(&schema, &options);
            assert!(given_up.is_empty(), "{}", given_up.join("\n"));
        }
    }
}
