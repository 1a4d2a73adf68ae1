//! Where in the arguments a value sits, named as QEMU's input visitor names it.
//!
//! Members are joined with `.`, list elements get `[i]`: `vcpus[0].online`. The path
//! is a chain of borrowed links on the stack, so it costs nothing until an error
//! needs it written out.

use std::fmt;

/// A position inside the `arguments` object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The `arguments` object itself.
    Root,
    /// Member `name` of the object at the parent path.
    Member(&'a Path<'a>, &'a str),
    /// Element `index` of the array at the parent path.
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// The full name of member `name` of the object at this path.
    pub(crate) fn member(&self, name: &str) -> String {
        Path::Member(self, name).to_string()
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // QEMU's name for a value without one.
            Path::Root => f.write_str("<anonymous>"),
            Path::Member(Path::Root, name) => f.write_str(name),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Path;

    #[test]
    fn names_like_qemu() {
        let vcpus = Path::Member(&Path::Root, "vcpus");
        let first = Path::Index(&vcpus, 0);
        assert_eq!(first.member("online"), "vcpus[0].online");
        let nested = Path::Index(&first, 2);
        assert_eq!(nested.to_string(), "vcpus[0][2]");
        assert_eq!(Path::Root.member("path"), "path");
        assert_eq!(Path::Root.to_string(), "<anonymous>");
    }
}
