//! From pieces of a file to its text, on as many threads as asked.
//!
//! A backend describes its file as pieces, in order: each builds the shapes of a few
//! items (a definition's worth, or one big item), at the top level or inside the
//! module or trait that a piece opened before it. The pieces are built on the
//! threads, then put together into the file's shape, with its blank lines (see
//! `shape::push`), then the items at the top level and inside its modules and traits
//! are printed on the threads, each by the direct printer, or by the reference
//! printer when the direct one gives up on it or `Options::reference_printer` asks
//! (see `print`). The text is the same whatever the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::context::{Context, Shared};
use super::print::pretty::{self, Wrap};
use super::print::text;
use super::shape::{self, Expr, Item, Stmt};
use super::Options;
use crate::model::Schema;

/// Where a piece's items go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// At the top level of the file.
    Top,
    /// A module or trait (one item with no items of its own), which the `Inside`
    /// pieces that follow fill.
    Open,
    /// Inside the module or trait opened last.
    Inside,
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

/// Pieces are built this many definitions' worth at a time, and items printed this
/// many lines' worth at a time: enough to make the cost of sharing the work small,
/// few enough to share it among threads.
const BUILD_CHUNK: usize = 16;
const PRINT_CHUNK: usize = 256;

/// What a printing job writes.
enum Unit<'s, 'a> {
    /// An item at the top level or, with its stand-in, inside a module or trait.
    Item(&'s Item<'a>, Option<Wrap>),
    /// The lines that open a module or trait.
    Open(&'s Item<'a>),
    /// The brace that closes it.
    Close,
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
    let threads = options.thread_count();

    let pieces: Vec<&Piece<'a>> = files.iter().flatten().collect();
    let builds = chunks(&pieces, BUILD_CHUNK, |p| p.weight);
    let (built, side) = parallel(threads, &builds, side, |pieces| {
        pieces.iter().map(|p| (p.build)(&cx)).collect::<Vec<_>>()
    });
    let mut built = built.into_iter().flatten();
    let shapes: Vec<Vec<Item<'a>>> = files
        .iter()
        .map(|file| assemble(file, built.by_ref()))
        .collect();

    let units: Vec<Vec<Unit<'_, 'a>>> = shapes.iter().map(|items| units(items)).collect();
    let mut jobs = Vec::new();
    for (file, units) in units.iter().enumerate() {
        let chunked = chunks(units, PRINT_CHUNK, weight);
        jobs.extend(chunked.into_iter().map(|chunk| (file, chunk)));
    }
    let reference = options.reference_printer;
    let prints: Vec<Chunk<'_, _>> = jobs.iter().map(|(_, chunk)| *chunk).collect();
    let (printed, ()) = parallel(
        threads,
        &prints,
        || (),
        |units| {
            let lines: usize = units.iter().map(weight).sum();
            let mut out = String::with_capacity(lines * 48);
            for unit in units {
                print(&cx, unit, reference, &mut out);
            }
            out
        },
    );
    let mut lengths = vec![prefix.len(); files.len()];
    for ((file, _), text) in jobs.iter().zip(&printed) {
        lengths[*file] += text.len();
    }
    let mut texts: Vec<String> = lengths
        .into_iter()
        .map(|length| {
            let mut text = String::with_capacity(length);
            text.push_str(prefix);
            text
        })
        .collect();
    for ((file, _), text) in jobs.iter().zip(printed) {
        texts[*file].push_str(&text);
    }
    (texts, side)
}

/// About how many lines a printing job writes.
fn weight(unit: &Unit<'_, '_>) -> usize {
    match unit {
        Unit::Item(item, _) => size(item),
        Unit::Open(_) | Unit::Close => 1,
    }
}

/// A file's shape: the items its pieces built, in order, those of `Inside` pieces
/// in the module or trait opened before them.
fn assemble<'a>(
    pieces: &[Piece<'a>],
    built: &mut impl Iterator<Item = Vec<Item<'a>>>,
) -> Vec<Item<'a>> {
    let mut top: Vec<Item<'a>> = Vec::new();
    for piece in pieces {
        let items = built.next().expect("a shape per piece");
        let into = match (piece.place, top.last_mut()) {
            (Place::Inside, Some(Item::Mod(c) | Item::Trait(c))) => &mut c.items,
            (Place::Inside, _) => panic!("qapi-gen: items inside no module or trait"),
            (Place::Top | Place::Open, _) => &mut top,
        };
        for item in items {
            shape::push(into, item);
        }
    }
    top
}

/// The printing jobs of a file: its items, and those of its modules and traits
/// between the lines that open and close them.
fn units<'s, 'a>(items: &'s [Item<'a>]) -> Vec<Unit<'s, 'a>> {
    let mut units = Vec::new();
    for item in items {
        match item {
            Item::Mod(c) | Item::Trait(c) if !c.items.is_empty() => {
                let wrap = if matches!(item, Item::Mod(_)) {
                    Wrap::Mod
                } else {
                    Wrap::Trait
                };
                units.push(Unit::Open(item));
                units.extend(c.items.iter().map(|i| Unit::Item(i, Some(wrap))));
                units.push(Unit::Close);
            }
            _ => units.push(Unit::Item(item, None)),
        }
    }
    units
}

fn print(cx: &Context<'_>, unit: &Unit<'_, '_>, reference: bool, out: &mut String) {
    match *unit {
        Unit::Item(Item::Blank, _) => out.push('\n'),
        Unit::Item(item, wrap) => {
            let indent = if wrap.is_some() { 4 } else { 0 };
            if reference || !text::item(cx, item, indent, out) {
                out.push_str(&pretty::item(cx, item, wrap.as_slice()));
            }
        }
        Unit::Open(item) => {
            let written = match item {
                Item::Mod(c) | Item::Trait(c) if !reference => text::head(cx, c, 0, out),
                _ => false,
            };
            if !written {
                out.push_str(&pretty::head(cx, item, &[]));
            }
        }
        Unit::Close => out.push_str("}\n"),
    }
}

/// About how many lines an item takes, to share the printing out.
fn size(item: &Item<'_>) -> usize {
    fn expr(e: &Expr<'_>) -> usize {
        match e {
            Expr::Slice(elements) => elements.len(),
            Expr::Struct(_, fields) => fields.len(),
            Expr::Match(_, arms) => arms.iter().map(|a| 1 + expr(&a.body)).sum(),
            Expr::Block(stmts) => stmts.iter().map(stmt).sum(),
            _ => 1,
        }
    }
    fn stmt(s: &Stmt<'_>) -> usize {
        match s {
            Stmt::Item(item) => size(item),
            Stmt::Semi(e) | Stmt::Expr(e) => expr(e),
        }
    }
    1 + match item {
        Item::Struct(s) => s.fields.as_ref().map_or(0, Vec::len),
        Item::Enum(e) => e.variants.len(),
        Item::Impl(c) | Item::Mod(c) | Item::Trait(c) => c.items.iter().map(size).sum(),
        Item::Const(c) => expr(&c.value),
        Item::Fn(f) => f.body.iter().flatten().map(stmt).sum(),
        Item::Blank | Item::Use(..) | Item::Type(..) => 0,
    }
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
        for pieces in [types::pieces(schema), dispatch::pieces(schema)] {
            let mut built = pieces.iter().map(|p| (p.build)(&cx));
            let items = assemble(&pieces, &mut built);
            for unit in units(&items) {
                if let Unit::Item(item, wrap) = unit {
                    let mut text = String::new();
                    if !text::item(&cx, item, 4 * usize::from(wrap.is_some()), &mut text) {
                        out.push(pretty::item(&cx, item, wrap.as_slice()));
                    }
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
