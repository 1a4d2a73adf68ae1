//! The agent: the generated `Handler` implemented over the command modules, and the
//! state every connection shares (open files, running processes, policy, frozen state).

use qga_dispatch::{Arguments, CommandInfo, Error, Handler, Policy, Reply, Service, COMMANDS};
use qga_types::commands as args;
use qga_types::*;

use crate::commands::error::CommandError;
use crate::commands::exec::ExecTable;
use crate::commands::file::FileTable;
use crate::commands::fsfreeze::{Freezer, FreezerConfig, FrozenObserver};
use crate::commands::mounts::MountTable;
use crate::commands::power::{Power, SuspendMode};
use crate::commands::{
    clock, cpu, cpustats, disks, diskstats, fsinfo, fstrim, load, memory, network, password,
    routes, ssh_keys, system,
};
use crate::daemon::state::State;

/// A command failure, as the client sees it.
fn generic(e: CommandError) -> Error {
    Error::generic(e.0)
}

/// Everything the commands share, for the whole life of the agent.
#[derive(Debug)]
pub struct Agent {
    state: State,
    policy: Policy,
    files: FileTable,
    execs: ExecTable,
    power: Power,
    freezer: Freezer,
}

impl Agent {
    /// An agent keeping its state in `state`, with the allow/block lists given, the
    /// fsfreeze hook if any, and `on_freeze` told when the filesystems freeze (true)
    /// and thaw (false).
    pub fn new(
        state: State,
        allow: &[String],
        block: &[String],
        hook: Option<std::path::PathBuf>,
        on_freeze: FrozenObserver,
    ) -> Agent {
        let mut policy = Policy::new();
        if !allow.is_empty() {
            policy.allow(allow.iter().cloned());
        }
        policy.block(block.iter().cloned());
        let mut freezer = Freezer::new(FreezerConfig {
            mount_table: MountTable::default(),
            state_dir: state.dir().to_owned(),
            hook,
        });
        freezer.set_observer(on_freeze);
        // A freeze that outlived the previous agent is still in force.
        policy.set_frozen(freezer.is_frozen());
        Agent {
            state,
            policy,
            files: FileTable::new(),
            execs: ExecTable::new(),
            power: Power::default(),
            freezer,
        }
    }

    /// Whether the filesystems are frozen.
    pub fn is_frozen(&self) -> bool {
        self.freezer.is_frozen()
    }

    /// Thaws the filesystems if they are frozen: at exit, a frozen guest must not
    /// be left behind.
    pub fn cleanup(&mut self) {
        if let Err(e) = self.freezer.cleanup() {
            tracing::error!("failed to clean up frozen filesystems: {e}");
        }
        self.policy.set_frozen(self.freezer.is_frozen());
    }

    /// Runs a freeze or thaw and brings the command gate in line with its outcome.
    fn freezing<T>(
        &mut self,
        f: impl FnOnce(&mut Freezer) -> Result<T, CommandError>,
    ) -> Result<T, Error> {
        let result = f(&mut self.freezer);
        self.policy.set_frozen(self.freezer.is_frozen());
        result.map_err(generic)
    }

    /// The commands of the protocol.
    pub fn commands() -> &'static [CommandInfo] {
        COMMANDS
    }
}

impl Service for Agent {
    fn call(&mut self, name: &str, arguments: Arguments<'_>) -> Result<Reply, Error> {
        match name {
            // The one reply whose size the client picks, up to 64 MiB of text: it
            // is written straight from the file rather than built as a value and
            // then encoded (`guest_file_read` below is the same command, typed).
            <args::GuestFileRead as Command>::NAME => {
                let arguments: args::GuestFileReadArguments = arguments.parse()?;
                self.files
                    .read_reply(arguments.handle, arguments.count)
                    .map_err(generic)
            }
            _ => qga_dispatch::dispatch(self, name, arguments),
        }
    }

    fn check(&self, name: &str) -> Result<(), Error> {
        self.policy.check(name)
    }
}

impl Handler for Agent {
    fn guest_sync_delimited(
        &mut self,
        arguments: args::GuestSyncDelimitedArguments,
    ) -> Result<i64, Error> {
        Ok(arguments.id)
    }

    fn guest_sync(&mut self, arguments: args::GuestSyncArguments) -> Result<i64, Error> {
        Ok(arguments.id)
    }

    fn guest_ping(&mut self) -> Result<(), Error> {
        Ok(())
    }

    fn guest_get_time(&mut self) -> Result<i64, Error> {
        system::get_time().map_err(generic)
    }

    fn guest_set_time(&mut self, arguments: args::GuestSetTimeArguments) -> Result<(), Error> {
        clock::set_system_time(arguments.time).map_err(generic)
    }

    fn guest_info(&mut self) -> Result<GuestAgentInfo, Error> {
        let supported_commands = COMMANDS
            .iter()
            .map(|c| GuestAgentCommandInfo {
                name: c.name.to_owned(),
                enabled: self.policy.enabled(c.name),
                success_response: c.success_response,
            })
            .collect();
        Ok(GuestAgentInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            supported_commands,
        })
    }

    fn guest_shutdown(&mut self, arguments: args::GuestShutdownArguments) -> Result<(), Error> {
        self.power
            .shutdown(arguments.mode.as_deref())
            .map_err(generic)
    }

    fn guest_file_open(&mut self, arguments: args::GuestFileOpenArguments) -> Result<i64, Error> {
        let state = &mut self.state;
        let mut handles = || state.next_handle();
        self.files
            .open(&arguments.path, arguments.mode.as_deref(), &mut handles)
            .map_err(generic)
    }

    fn guest_file_close(&mut self, arguments: args::GuestFileCloseArguments) -> Result<(), Error> {
        self.files.close(arguments.handle).map_err(generic)
    }

    fn guest_file_read(
        &mut self,
        arguments: args::GuestFileReadArguments,
    ) -> Result<GuestFileRead, Error> {
        self.files
            .read(arguments.handle, arguments.count)
            .map_err(generic)
    }

    fn guest_file_write(
        &mut self,
        arguments: args::GuestFileWriteArguments,
    ) -> Result<GuestFileWrite, Error> {
        self.files
            .write(arguments.handle, &arguments.buf_b64, arguments.count)
            .map_err(generic)
    }

    fn guest_file_seek(
        &mut self,
        arguments: args::GuestFileSeekArguments,
    ) -> Result<GuestFileSeek, Error> {
        self.files
            .seek(arguments.handle, arguments.offset, &arguments.whence)
            .map_err(generic)
    }

    fn guest_file_flush(&mut self, arguments: args::GuestFileFlushArguments) -> Result<(), Error> {
        self.files.flush(arguments.handle).map_err(generic)
    }

    fn guest_fsfreeze_status(&mut self) -> Result<GuestFsfreezeStatus, Error> {
        Ok(self.freezer.status())
    }

    fn guest_fsfreeze_freeze(&mut self) -> Result<i64, Error> {
        self.freezing(Freezer::freeze)
    }

    fn guest_fsfreeze_freeze_list(
        &mut self,
        arguments: args::GuestFsfreezeFreezeListArguments,
    ) -> Result<i64, Error> {
        self.freezing(|f| f.freeze_list(arguments.mountpoints.as_deref()))
    }

    fn guest_fsfreeze_thaw(&mut self) -> Result<i64, Error> {
        self.freezing(Freezer::thaw)
    }

    fn guest_fstrim(
        &mut self,
        arguments: args::GuestFstrimArguments,
    ) -> Result<GuestFilesystemTrimResponse, Error> {
        fstrim::fstrim(arguments.minimum).map_err(generic)
    }

    fn guest_suspend_disk(&mut self) -> Result<(), Error> {
        self.power.suspend(SuspendMode::Disk).map_err(generic)
    }

    fn guest_suspend_ram(&mut self) -> Result<(), Error> {
        self.power.suspend(SuspendMode::Ram).map_err(generic)
    }

    fn guest_suspend_hybrid(&mut self) -> Result<(), Error> {
        self.power.suspend(SuspendMode::Hybrid).map_err(generic)
    }

    fn guest_network_get_interfaces(&mut self) -> Result<Vec<GuestNetworkInterface>, Error> {
        network::get_interfaces().map_err(generic)
    }

    fn guest_get_vcpus(&mut self) -> Result<Vec<GuestLogicalProcessor>, Error> {
        cpu::get_vcpus().map_err(generic)
    }

    fn guest_set_vcpus(&mut self, arguments: args::GuestSetVcpusArguments) -> Result<i64, Error> {
        cpu::set_vcpus(&arguments.vcpus).map_err(generic)
    }

    fn guest_get_disks(&mut self) -> Result<Vec<GuestDiskInfo>, Error> {
        disks::get_disks().map_err(generic)
    }

    fn guest_get_fsinfo(&mut self) -> Result<Vec<GuestFilesystemInfo>, Error> {
        fsinfo::get_fsinfo().map_err(generic)
    }

    fn guest_set_user_password(
        &mut self,
        arguments: args::GuestSetUserPasswordArguments,
    ) -> Result<(), Error> {
        password::set_user_password(&arguments).map_err(generic)
    }

    fn guest_get_memory_blocks(&mut self) -> Result<Vec<GuestMemoryBlock>, Error> {
        memory::get_memory_blocks().map_err(generic)
    }

    fn guest_set_memory_blocks(
        &mut self,
        arguments: args::GuestSetMemoryBlocksArguments,
    ) -> Result<Vec<GuestMemoryBlockResponse>, Error> {
        memory::set_memory_blocks(&arguments.mem_blks).map_err(generic)
    }

    fn guest_get_memory_block_info(&mut self) -> Result<GuestMemoryBlockInfo, Error> {
        memory::get_memory_block_info().map_err(generic)
    }

    fn guest_exec_status(
        &mut self,
        arguments: args::GuestExecStatusArguments,
    ) -> Result<GuestExecStatus, Error> {
        self.execs.status(arguments.pid).map_err(generic)
    }

    fn guest_exec(&mut self, arguments: args::GuestExecArguments) -> Result<GuestExec, Error> {
        self.execs.exec(arguments).map_err(generic)
    }

    fn guest_get_host_name(&mut self) -> Result<GuestHostName, Error> {
        system::get_host_name().map_err(generic)
    }

    fn guest_get_users(&mut self) -> Result<Vec<GuestUser>, Error> {
        system::get_users().map_err(generic)
    }

    fn guest_get_timezone(&mut self) -> Result<GuestTimezone, Error> {
        system::get_timezone().map_err(generic)
    }

    fn guest_get_osinfo(&mut self) -> Result<GuestOSInfo, Error> {
        system::get_osinfo().map_err(generic)
    }

    fn guest_ssh_get_authorized_keys(
        &mut self,
        arguments: args::GuestSshGetAuthorizedKeysArguments,
    ) -> Result<GuestAuthorizedKeys, Error> {
        ssh_keys::get_authorized_keys(&arguments.username).map_err(generic)
    }

    fn guest_ssh_add_authorized_keys(
        &mut self,
        arguments: args::GuestSshAddAuthorizedKeysArguments,
    ) -> Result<(), Error> {
        let reset = arguments.reset.unwrap_or(false);
        ssh_keys::add_authorized_keys(&arguments.username, &arguments.keys, reset).map_err(generic)
    }

    fn guest_ssh_remove_authorized_keys(
        &mut self,
        arguments: args::GuestSshRemoveAuthorizedKeysArguments,
    ) -> Result<(), Error> {
        ssh_keys::remove_authorized_keys(&arguments.username, &arguments.keys).map_err(generic)
    }

    fn guest_get_diskstats(&mut self) -> Result<Vec<GuestDiskStatsInfo>, Error> {
        diskstats::get_diskstats().map_err(generic)
    }

    fn guest_get_cpustats(&mut self) -> Result<Vec<GuestCpuStats>, Error> {
        cpustats::get_cpustats().map_err(generic)
    }

    fn guest_get_load(&mut self) -> Result<GuestLoadAverage, Error> {
        load::get_load().map_err(generic)
    }

    fn guest_network_get_route(&mut self) -> Result<Vec<GuestNetworkRoute>, Error> {
        routes::get_routes().map_err(generic)
    }
}
