//! The serial channels: a virtio-serial port or a serial line.
//!
//! Both are opened read-write, non-blocking and close-on-exec. A serial line
//! (isa-serial) is also `O_NOCTTY` and put in raw mode as qemu-ga does: no
//! input or output processing, no echo, no canonical lines, 38400 baud, reads
//! return as soon as one byte is there; what was waiting to be read is thrown
//! away (it is from before the agent started).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::termios::{
    tcflush, tcgetattr, tcsetattr, InputModes, LocalModes, OptionalActions, OutputModes,
    QueueSelector, SpecialCodeIndex,
};

use super::{ChannelError, Method};

/// The speed a serial line is set to.
pub const SERIAL_SPEED: u32 = 38400;

/// An open serial device.
#[derive(Debug)]
pub struct Device {
    fd: OwnedFd,
    method: Method,
    path: PathBuf,
}

fn open(path: &Path, extra: OFlags) -> Result<OwnedFd, ChannelError> {
    rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC | extra,
        Mode::empty(),
    )
    .map_err(|e| ChannelError::Open(path.to_owned(), e.into()))
}

impl Device {
    /// Opens a virtio-serial port.
    pub fn open_virtio(path: &Path) -> Result<Device, ChannelError> {
        Ok(Device {
            fd: open(path, OFlags::empty())?,
            method: Method::VirtioSerial,
            path: path.to_owned(),
        })
    }

    /// Opens a serial line and puts it in raw mode.
    pub fn open_serial(path: &Path) -> Result<Device, ChannelError> {
        let fd = open(path, OFlags::NOCTTY)?;
        set_raw(&fd).map_err(|e| ChannelError::Open(path.to_owned(), e.into()))?;
        Ok(Device {
            fd,
            method: Method::IsaSerial,
            path: path.to_owned(),
        })
    }

    /// The method it was opened for.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// qemu-ga's settings for a serial line: dumb byte streaming.
fn set_raw(fd: &OwnedFd) -> rustix::io::Result<()> {
    let mut tio = tcgetattr(fd)?;
    tio.input_modes -= InputModes::IGNBRK
        | InputModes::BRKINT
        | InputModes::IGNPAR
        | InputModes::PARMRK
        | InputModes::INPCK
        | InputModes::ISTRIP
        | InputModes::INLCR
        | InputModes::IGNCR
        | InputModes::ICRNL
        | InputModes::IXON
        | InputModes::IXOFF
        | InputModes::IXANY
        | InputModes::IMAXBEL;
    tio.output_modes = OutputModes::empty();
    tio.local_modes = LocalModes::empty();
    tio.set_speed(SERIAL_SPEED)?;
    tio.special_codes[SpecialCodeIndex::VMIN] = 1;
    tio.special_codes[SpecialCodeIndex::VTIME] = 0;
    tcflush(fd, QueueSelector::IFlush)?;
    tcsetattr(fd, OptionalActions::Now, &tio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_reported_as_qemu_ga_does() {
        let err = Device::open_virtio(Path::new("/nonexistent/port")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error opening channel '/nonexistent/port': No such file or directory (os error 2)"
        );
    }

    #[test]
    fn a_file_that_is_not_a_tty_is_no_serial_line() {
        let file = tempfile::NamedTempFile::new().unwrap();
        assert!(Device::open_serial(file.path()).is_err());
        // A virtio port is any character device; a plain file opens too.
        let device = Device::open_virtio(file.path()).unwrap();
        assert_eq!(device.method(), Method::VirtioSerial);
        assert_eq!(device.path(), file.path());
        let flags = rustix::io::fcntl_getfd(device.fd()).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }
}
