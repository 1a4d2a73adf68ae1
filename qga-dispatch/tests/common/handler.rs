//! A hand-written stand-in for the generated dispatch file: the same shape (a
//! `Handler` trait, `COMMANDS`, `dispatch`) over a few fake commands with local
//! argument types, and a `FakeAgent` implementing it. Shared by the tests, the
//! benches and the fuzz targets.

use qga_dispatch::{Arguments, CommandInfo, Error, Policy, Reply, Service};

/// Argument and return types, written as the generator writes them.
pub mod types {
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestSyncArguments {
        #[serde(rename = "id")]
        pub id: i64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestFileReadArguments {
        #[serde(rename = "handle")]
        pub handle: i64,
        #[serde(rename = "count", default, skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestFileRead {
        #[serde(rename = "count")]
        pub count: i64,
        #[serde(rename = "buf-b64", with = "qga_types::base64")]
        pub buf_b64: Vec<u8>,
        #[serde(rename = "eof")]
        pub eof: bool,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestFileWriteArguments {
        #[serde(rename = "handle")]
        pub handle: i64,
        #[serde(rename = "buf-b64", with = "qga_types::base64")]
        pub buf_b64: Vec<u8>,
        #[serde(rename = "count", default, skip_serializing_if = "Option::is_none")]
        pub count: Option<i64>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestFileWrite {
        #[serde(rename = "count")]
        pub count: i64,
        #[serde(rename = "eof")]
        pub eof: bool,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum QgaSeek {
        #[serde(rename = "set")]
        Set,
        #[serde(rename = "cur")]
        Cur,
        #[serde(rename = "end")]
        End,
    }

    /// An alternate: an integer or a [`QgaSeek`] name, picked by the JSON kind.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(untagged)]
    pub enum GuestFileWhence {
        Value(i64),
        Name(QgaSeek),
    }

    impl<'de> Deserialize<'de> for GuestFileWhence {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = GuestFileWhence;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("GuestFileWhence")
                }
                fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Self::Value, E> {
                    Ok(GuestFileWhence::Value(value))
                }
                fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Self::Value, E> {
                    i64::try_from(value)
                        .map(GuestFileWhence::Value)
                        .map_err(|_| {
                            E::invalid_value(serde::de::Unexpected::Unsigned(value), &"integer")
                        })
                }
                fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
                    use serde::de::IntoDeserializer as _;
                    QgaSeek::deserialize(value.into_deserializer()).map(GuestFileWhence::Name)
                }
            }
            deserializer.deserialize_any(Visitor)
        }
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestFileSeekArguments {
        #[serde(rename = "handle")]
        pub handle: i64,
        #[serde(rename = "offset")]
        pub offset: i64,
        #[serde(rename = "whence")]
        pub whence: GuestFileWhence,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestFileSeek {
        #[serde(rename = "position")]
        pub position: i64,
        #[serde(rename = "eof")]
        pub eof: bool,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestLogicalProcessor {
        #[serde(rename = "logical-id")]
        pub logical_id: i64,
        #[serde(rename = "online")]
        pub online: bool,
        #[serde(
            rename = "can-offline",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        pub can_offline: Option<bool>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestSetVcpusArguments {
        #[serde(rename = "vcpus")]
        pub vcpus: Vec<GuestLogicalProcessor>,
    }

    /// Every kind of member, for the argument tests; echoed back.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestKindsArguments {
        #[serde(rename = "u8", default, skip_serializing_if = "Option::is_none")]
        pub u8: Option<u8>,
        #[serde(rename = "u16", default, skip_serializing_if = "Option::is_none")]
        pub u16: Option<u16>,
        #[serde(rename = "u32", default, skip_serializing_if = "Option::is_none")]
        pub u32: Option<u32>,
        #[serde(rename = "u64", default, skip_serializing_if = "Option::is_none")]
        pub u64: Option<u64>,
        #[serde(rename = "i8", default, skip_serializing_if = "Option::is_none")]
        pub i8: Option<i8>,
        #[serde(rename = "i16", default, skip_serializing_if = "Option::is_none")]
        pub i16: Option<i16>,
        #[serde(rename = "i32", default, skip_serializing_if = "Option::is_none")]
        pub i32: Option<i32>,
        #[serde(rename = "i64", default, skip_serializing_if = "Option::is_none")]
        pub i64: Option<i64>,
        #[serde(rename = "number", default, skip_serializing_if = "Option::is_none")]
        pub number: Option<f64>,
        #[serde(rename = "flag", default, skip_serializing_if = "Option::is_none")]
        pub flag: Option<bool>,
        #[serde(rename = "text", default, skip_serializing_if = "Option::is_none")]
        pub text: Option<String>,
        #[serde(rename = "any", default, skip_serializing_if = "Option::is_none")]
        pub any: Option<Value>,
        #[serde(rename = "nothing", default, skip_serializing_if = "Option::is_none")]
        pub nothing: Option<()>,
        #[serde(rename = "list", default, skip_serializing_if = "Option::is_none")]
        pub list: Option<Vec<u32>>,
        #[serde(rename = "seek", default, skip_serializing_if = "Option::is_none")]
        pub seek: Option<QgaSeek>,
        #[serde(
            rename = "bytes",
            default,
            with = "qga_types::base64::option",
            skip_serializing_if = "Option::is_none"
        )]
        pub bytes: Option<Vec<u8>>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestShutdownArguments {
        #[serde(rename = "mode", default, skip_serializing_if = "Option::is_none")]
        pub mode: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct GuestExecArguments {
        #[serde(rename = "path")]
        pub path: String,
        #[serde(rename = "arg", default, skip_serializing_if = "Option::is_none")]
        pub arg: Option<Vec<String>>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestExec {
        #[serde(rename = "pid")]
        pub pid: i64,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestAgentCommandInfo {
        #[serde(rename = "name")]
        pub name: String,
        #[serde(rename = "enabled")]
        pub enabled: bool,
        #[serde(rename = "success-response")]
        pub success_response: bool,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GuestAgentInfo {
        #[serde(rename = "version")]
        pub version: String,
        #[serde(rename = "supported_commands")]
        pub supported_commands: Vec<GuestAgentCommandInfo>,
    }
}

/// What an agent implements: one method per command.
pub trait Handler {
    fn guest_sync(&mut self, arguments: types::GuestSyncArguments) -> Result<i64, Error>;
    fn guest_sync_delimited(&mut self, arguments: types::GuestSyncArguments) -> Result<i64, Error>;
    fn guest_ping(&mut self) -> Result<(), Error>;
    fn guest_info(&mut self) -> Result<types::GuestAgentInfo, Error>;
    fn guest_file_read(
        &mut self,
        arguments: types::GuestFileReadArguments,
    ) -> Result<types::GuestFileRead, Error>;
    fn guest_file_write(
        &mut self,
        arguments: types::GuestFileWriteArguments,
    ) -> Result<types::GuestFileWrite, Error>;
    fn guest_file_seek(
        &mut self,
        arguments: types::GuestFileSeekArguments,
    ) -> Result<types::GuestFileSeek, Error>;
    fn guest_set_vcpus(&mut self, arguments: types::GuestSetVcpusArguments) -> Result<i64, Error>;
    fn guest_kinds(
        &mut self,
        arguments: types::GuestKindsArguments,
    ) -> Result<types::GuestKindsArguments, Error>;
    fn guest_shutdown(&mut self, arguments: types::GuestShutdownArguments) -> Result<(), Error>;
    fn guest_fsfreeze_freeze(&mut self) -> Result<i64, Error>;
    fn guest_fsfreeze_thaw(&mut self) -> Result<i64, Error>;
    fn guest_exec(
        &mut self,
        arguments: types::GuestExecArguments,
    ) -> Result<types::GuestExec, Error>;
}

/// Every command, with whether it answers on success.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "guest-sync",
        success_response: true,
    },
    CommandInfo {
        name: "guest-sync-delimited",
        success_response: true,
    },
    CommandInfo {
        name: "guest-ping",
        success_response: true,
    },
    CommandInfo {
        name: "guest-info",
        success_response: true,
    },
    CommandInfo {
        name: "guest-file-read",
        success_response: true,
    },
    CommandInfo {
        name: "guest-file-write",
        success_response: true,
    },
    CommandInfo {
        name: "guest-file-seek",
        success_response: true,
    },
    CommandInfo {
        name: "guest-set-vcpus",
        success_response: true,
    },
    CommandInfo {
        name: "guest-kinds",
        success_response: true,
    },
    CommandInfo {
        name: "guest-shutdown",
        success_response: false,
    },
    CommandInfo {
        name: "guest-fsfreeze-freeze",
        success_response: true,
    },
    CommandInfo {
        name: "guest-fsfreeze-thaw",
        success_response: true,
    },
    CommandInfo {
        name: "guest-exec",
        success_response: true,
    },
];

/// Runs command `name` on `handler`.
pub fn dispatch<H: Handler + ?Sized>(
    handler: &mut H,
    name: &str,
    arguments: Arguments<'_>,
) -> Result<Reply, Error> {
    match name {
        "guest-sync" => Reply::new(&handler.guest_sync(arguments.parse()?)?),
        "guest-sync-delimited" => Reply::new(&handler.guest_sync_delimited(arguments.parse()?)?),
        "guest-ping" => {
            arguments.empty()?;
            handler.guest_ping()?;
            Ok(Reply::empty())
        }
        "guest-info" => Reply::new(&{
            arguments.empty()?;
            handler.guest_info()?
        }),
        "guest-file-read" => Reply::new(&handler.guest_file_read(arguments.parse()?)?),
        "guest-file-write" => Reply::new(&handler.guest_file_write(arguments.parse()?)?),
        "guest-file-seek" => Reply::new(&handler.guest_file_seek(arguments.parse()?)?),
        "guest-set-vcpus" => Reply::new(&handler.guest_set_vcpus(arguments.parse()?)?),
        "guest-kinds" => Reply::new(&handler.guest_kinds(arguments.parse()?)?),
        "guest-shutdown" => {
            handler.guest_shutdown(arguments.parse()?)?;
            Ok(Reply::empty())
        }
        "guest-fsfreeze-freeze" => Reply::new(&{
            arguments.empty()?;
            handler.guest_fsfreeze_freeze()?
        }),
        "guest-fsfreeze-thaw" => Reply::new(&{
            arguments.empty()?;
            handler.guest_fsfreeze_thaw()?
        }),
        "guest-exec" => Reply::new(&handler.guest_exec(arguments.parse()?)?),
        _ => Err(Error::command_not_found(name)),
    }
}

/// A pretend agent: remembers what it was asked, holds a policy.
#[derive(Debug, Default)]
pub struct FakeAgent {
    pub policy: Policy,
    /// The commands that ran, in order.
    pub calls: Vec<String>,
    /// Bytes received by guest-file-write.
    pub written: usize,
    /// Makes guest-shutdown fail.
    pub shutdown_fails: bool,
}

/// QEMU's cap on guest-file-read's `count`.
const MAX_READ: i64 = 48 << 20;

impl Handler for FakeAgent {
    fn guest_sync(&mut self, arguments: types::GuestSyncArguments) -> Result<i64, Error> {
        self.calls.push("guest-sync".into());
        Ok(arguments.id)
    }

    fn guest_sync_delimited(&mut self, arguments: types::GuestSyncArguments) -> Result<i64, Error> {
        self.calls.push("guest-sync-delimited".into());
        Ok(arguments.id)
    }

    fn guest_ping(&mut self) -> Result<(), Error> {
        self.calls.push("guest-ping".into());
        Ok(())
    }

    fn guest_info(&mut self) -> Result<types::GuestAgentInfo, Error> {
        self.calls.push("guest-info".into());
        let supported_commands = COMMANDS
            .iter()
            .map(|c| types::GuestAgentCommandInfo {
                name: c.name.into(),
                enabled: self.policy.enabled(c.name),
                success_response: c.success_response,
            })
            .collect();
        Ok(types::GuestAgentInfo {
            version: "0.1.0".into(),
            supported_commands,
        })
    }

    fn guest_file_read(
        &mut self,
        arguments: types::GuestFileReadArguments,
    ) -> Result<types::GuestFileRead, Error> {
        self.calls.push("guest-file-read".into());
        let count = arguments.count.unwrap_or(4096);
        if !(0..=MAX_READ).contains(&count) {
            return Err(Error::generic(format!(
                "value '{count}' is invalid for argument count"
            )));
        }
        if arguments.handle != 1000 {
            return Err(Error::generic(format!(
                "handle '{}' has not been found",
                arguments.handle
            )));
        }
        Ok(types::GuestFileRead {
            count: 5,
            buf_b64: b"hello".to_vec(),
            eof: true,
        })
    }

    fn guest_file_write(
        &mut self,
        arguments: types::GuestFileWriteArguments,
    ) -> Result<types::GuestFileWrite, Error> {
        self.calls.push("guest-file-write".into());
        self.written += arguments.buf_b64.len();
        let count =
            i64::try_from(arguments.buf_b64.len()).map_err(|e| Error::generic(e.to_string()))?;
        Ok(types::GuestFileWrite { count, eof: false })
    }

    fn guest_file_seek(
        &mut self,
        arguments: types::GuestFileSeekArguments,
    ) -> Result<types::GuestFileSeek, Error> {
        self.calls.push("guest-file-seek".into());
        let base = match arguments.whence {
            types::GuestFileWhence::Value(0)
            | types::GuestFileWhence::Name(types::QgaSeek::Set) => 0,
            types::GuestFileWhence::Value(1)
            | types::GuestFileWhence::Name(types::QgaSeek::Cur) => 10,
            types::GuestFileWhence::Value(2)
            | types::GuestFileWhence::Name(types::QgaSeek::End) => 100,
            types::GuestFileWhence::Value(code) => {
                return Err(Error::generic(format!("invalid whence code {code}")))
            }
        };
        Ok(types::GuestFileSeek {
            position: base + arguments.offset,
            eof: false,
        })
    }

    fn guest_set_vcpus(&mut self, arguments: types::GuestSetVcpusArguments) -> Result<i64, Error> {
        self.calls.push("guest-set-vcpus".into());
        i64::try_from(arguments.vcpus.len()).map_err(|e| Error::generic(e.to_string()))
    }

    fn guest_kinds(
        &mut self,
        arguments: types::GuestKindsArguments,
    ) -> Result<types::GuestKindsArguments, Error> {
        self.calls.push("guest-kinds".into());
        Ok(arguments)
    }

    fn guest_shutdown(&mut self, arguments: types::GuestShutdownArguments) -> Result<(), Error> {
        self.calls.push("guest-shutdown".into());
        if self.shutdown_fails {
            return Err(Error::generic(format!(
                "cannot shut down (mode {:?})",
                arguments.mode
            )));
        }
        Ok(())
    }

    fn guest_fsfreeze_freeze(&mut self) -> Result<i64, Error> {
        self.calls.push("guest-fsfreeze-freeze".into());
        self.policy.set_frozen(true);
        Ok(1)
    }

    fn guest_fsfreeze_thaw(&mut self) -> Result<i64, Error> {
        self.calls.push("guest-fsfreeze-thaw".into());
        self.policy.set_frozen(false);
        Ok(1)
    }

    fn guest_exec(
        &mut self,
        arguments: types::GuestExecArguments,
    ) -> Result<types::GuestExec, Error> {
        self.calls.push(format!("guest-exec {}", arguments.path));
        Ok(types::GuestExec { pid: 4242 })
    }
}

impl Service for FakeAgent {
    fn call(&mut self, name: &str, arguments: Arguments<'_>) -> Result<Reply, Error> {
        dispatch(self, name, arguments)
    }

    fn check(&self, name: &str) -> Result<(), Error> {
        self.policy.check(name)
    }
}
