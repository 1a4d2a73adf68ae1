//! Building and formatting a Rust file piece by piece, on as many threads as asked.
//!
//! A backend describes its file as pieces, in order: items at the top level, items
//! inside a module or a trait, and the module or trait heads and closing braces around
//! them. Runs of pieces are built (tokens) and formatted (syn, then prettyplease) on
//! their own, items inside a container wrapped in a stand-in container so that they
//! are laid out at its indentation. The text is the same as for the whole file in one
//! go: prettyplease lays out each item on its own, starting on a line of its own and
//! ending with a line break, so that the layout of an item depends only on its
//! indentation. The golden tests hold the text to that.
//!
//! A piece may also know how to write itself as text (`Piece::or_text`, see
//! `text.rs`): then it is written so, and only the pieces that give up, or every
//! piece with `Options::reference_printer`, go through tokens, syn and prettyplease.
//!
//! Tokens are tied to their thread (`proc_macro2` types are not `Send`), so every
//! thread builds the pieces it formats, with a [`Context`] of its own over the same
//! [`Shared`] facts.

use std::sync::atomic::{AtomicUsize, Ordering};

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};

use super::context::{Context, Shared};
use super::Options;
use crate::model::Schema;

/// Where a piece goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Items at the top level of the file.
    Top,
    /// Items inside the module opened before them.
    InMod,
    /// Items inside the trait opened before them.
    InTrait,
    /// A module or trait written with an empty body (`pub mod commands {}`): the lines
    /// that open it, up to its `{`.
    Open,
    /// The `}` closing the module or trait; its builder is not called.
    Close,
}

type Build<'a> = Box<dyn Fn(&Context<'_>) -> TokenStream + Send + Sync + 'a>;

/// Writes a piece as text at an indentation (see `text.rs`): `None` when it cannot
/// be sure to write what prettyplease would.
type Write<'a> = Box<dyn Fn(&Context<'_>, usize) -> Option<String> + Send + Sync + 'a>;

/// A part of a file and how to build its tokens.
pub struct Piece<'a> {
    place: Place,
    /// About how many definitions' worth of code the piece holds.
    weight: usize,
    build: Build<'a>,
    text: Option<Write<'a>>,
}

impl<'a> Piece<'a> {
    /// A piece of about one definition's worth of code.
    pub fn new(
        place: Place,
        build: impl Fn(&Context<'_>) -> TokenStream + Send + Sync + 'a,
    ) -> Self {
        Piece::weighing(place, 1, build)
    }

    /// A piece of about `weight` definitions' worth of code (one line per command,
    /// say), so that it is formatted on its own and early.
    pub fn weighing(
        place: Place,
        weight: usize,
        build: impl Fn(&Context<'_>) -> TokenStream + Send + Sync + 'a,
    ) -> Self {
        Piece {
            place,
            weight,
            build: Box::new(build),
            text: None,
        }
    }

    /// The same piece written directly as text when it can be (see `text.rs`).
    pub fn or_text(
        mut self,
        text: impl Fn(&Context<'_>, usize) -> Option<String> + Send + Sync + 'a,
    ) -> Self {
        self.text = Some(Box::new(text));
        self
    }

    /// The brace that closes the module or trait opened last.
    pub fn close() -> Self {
        Piece::new(Place::Close, |_| TokenStream::new())
    }
}

/// Items inside one container are formatted this many definitions' worth at a time:
/// enough to make the cost of a parse and a printer small, few enough to share the
/// work among threads.
const CHUNK_WEIGHT: usize = 16;

/// Consecutive pieces of one file formatted together.
struct Chunk<'p, 'a> {
    file: usize,
    place: Place,
    pieces: &'p [Piece<'a>],
    weight: usize,
}

/// The formatted text of each file (without header), and the result of `side`, which
/// the calling thread computes while other threads start on the files.
pub fn render<T>(
    schema: &Schema,
    options: &Options,
    shared: &Shared,
    files: &[Vec<Piece<'_>>],
    side: impl FnOnce() -> T,
) -> (Vec<String>, T) {
    // Made first, on the calling thread, so that bad options panic here with their
    // message (as documented on the backends), not in a worker.
    let cx = Context::new(schema, options, shared);
    let mut chunks = Vec::new();
    for (file, pieces) in files.iter().enumerate() {
        let mut start = 0;
        while start < pieces.len() {
            let place = pieces[start].place;
            let mut weight = pieces[start].weight;
            let mut end = start + 1;
            if matches!(place, Place::Top | Place::InMod | Place::InTrait) {
                while end < pieces.len()
                    && weight + pieces[end].weight <= CHUNK_WEIGHT
                    && pieces[end].place == place
                {
                    weight += pieces[end].weight;
                    end += 1;
                }
            }
            chunks.push(Chunk {
                file,
                place,
                pieces: &pieces[start..end],
                weight,
            });
            start = end;
        }
    }
    // The heaviest chunks first, so that no thread is left with a big one at the end.
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(chunks[i].weight));
    let next = AtomicUsize::new(0);
    let work = |cx: &Context<'_>| {
        let mut done = Vec::new();
        loop {
            let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return done;
            };
            done.push((i, format_chunk(cx, &chunks[i], options.reference_printer)));
        }
    };
    let threads = options.thread_count().min(chunks.len()).max(1);
    let (mut done, side) = if threads == 1 {
        let side = side();
        (work(&cx), side)
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (1..threads)
                .map(|_| scope.spawn(|| work(&Context::new(schema, options, shared))))
                .collect();
            let side = side();
            let mut done = work(&cx);
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
    let mut texts = vec![String::new(); files.len()];
    // Whether nothing has been written since the last `Open`: then a `Close` makes
    // the empty body prettyplease writes (`pub trait Handler {}`).
    let mut just_opened = false;
    for (i, text) in done {
        let out = &mut texts[chunks[i].file];
        match chunks[i].place {
            Place::Close if just_opened => {
                out.truncate(out.len() - "\n".len());
                out.push_str("}\n");
            }
            _ => out.push_str(&text),
        }
        if !text.is_empty() {
            just_opened = chunks[i].place == Place::Open;
        }
    }
    (texts, side)
}

/// A chunk's text: the pieces that can be written as text written so, the others
/// (each run of them) built and formatted with prettyplease.
fn format_chunk(cx: &Context<'_>, chunk: &Chunk<'_, '_>, reference: bool) -> String {
    if chunk.place == Place::Close {
        return "}\n".to_owned();
    }
    if reference || chunk.place == Place::Open {
        return pretty(cx, chunk.place, chunk.pieces.iter());
    }
    let indent = match chunk.place {
        Place::InMod | Place::InTrait => 4,
        _ => 0,
    };
    let mut out = String::new();
    let mut pending: Vec<&Piece<'_>> = Vec::new();
    for piece in chunk.pieces {
        match piece.text.as_ref().and_then(|text| text(cx, indent)) {
            Some(text) => {
                if !pending.is_empty() {
                    out.push_str(&pretty(cx, chunk.place, pending.drain(..)));
                }
                out.push_str(&text);
            }
            None => pending.push(piece),
        }
    }
    if !pending.is_empty() {
        out.push_str(&pretty(cx, chunk.place, pending.drain(..)));
    }
    out
}

/// Pieces built as tokens and formatted with syn and prettyplease.
fn pretty<'p, 'a: 'p>(
    cx: &Context<'_>,
    place: Place,
    pieces: impl Iterator<Item = &'p Piece<'a>>,
) -> String {
    cx.docs.clear();
    let mut tokens = TokenStream::new();
    for piece in pieces {
        tokens.extend((piece.build)(cx));
    }
    let wrapper = match place {
        Place::InMod => Some("mod"),
        Place::InTrait => Some("trait"),
        _ => None,
    };
    if let Some(keyword) = wrapper {
        // `mod m { ... }` or `trait T { ... }`, whose first and last lines are dropped.
        tokens = TokenStream::from_iter([
            TokenTree::Ident(Ident::new(keyword, Span::call_site())),
            TokenTree::Ident(Ident::new("Wrapper", Span::call_site())),
            TokenTree::Group(Group::new(Delimiter::Brace, tokens)),
        ]);
    }
    let file: syn::File = match syn::parse2(tokens) {
        Ok(file) => file,
        // A bug in a backend, never in the schema: every emitter builds items.
        Err(e) => panic!("qapi-gen emitted code that does not parse: {e}"),
    };
    let text = cx.docs.insert(prettyplease::unparse(&file));
    match place {
        Place::Open => match text.strip_suffix("{}\n") {
            Some(head) => format!("{head}{{\n"),
            None => panic!("qapi-gen: a module or trait head has a body: {text}"),
        },
        Place::InMod | Place::InTrait => {
            let inner = text.split_once('\n').map_or("", |(_, rest)| rest);
            inner.strip_suffix("}\n").unwrap_or_default().to_owned()
        }
        Place::Top | Place::Close => text,
    }
}
