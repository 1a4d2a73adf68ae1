//! What a project gets from qapi-gen in a build script: its own schema's types, a
//! module of this crate, over qga-types' runtime (see `build.rs`).

/// The types of `schema.json`.
#[rustfmt::skip]
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/types.rs"));
}

#[cfg(test)]
mod tests {
    use super::types::{commands, Brush, Colour};
    use qga_types::Command;

    #[test]
    fn the_generated_types_work_over_qga_types() {
        assert_eq!(<commands::Paint as Command>::NAME, "paint");
        let args = commands::PaintArguments {
            brush: Brush {
                colour: Colour::LightBlue,
                width: Some(3),
            },
        };
        let json = serde_json::to_string(&args).unwrap();
        assert_eq!(json, r#"{"brush":{"colour":"light-blue","width":3}}"#);
        assert_eq!(
            serde_json::from_str::<commands::PaintArguments>(&json).unwrap(),
            args
        );
        let err = serde_json::from_str::<Colour>(r#""green""#).unwrap_err();
        assert!(err.to_string().contains("green"), "{err}");
    }
}
