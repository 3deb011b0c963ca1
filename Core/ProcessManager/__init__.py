"""Core.ProcessManager: start, watch and talk to many child processes.

The documented API over a native engine (posix_spawn, one epoll reactor
thread, ring buffers, pidfds).  See README.md.
"""

# Lets the source tree find the compiled _engine installed in site-packages
# (and a user's own Core.* packages live beside this one).
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

from ._policy import DEFAULT_REDACTIONS, CommandPolicy, PolicyDecision, redact_command  # noqa: E402
from ._types import (  # noqa: E402
    CommandFailedError,
    CommandStartError,
    CommandTimeoutError,
    ExecutionMode,
    ExecutionResult,
    ProcessManagerError,
)
from .execute_command import (  # noqa: E402
    CommandExecutor,
    execute_command,
    execute_command_async,
    get_default_executor,
    pop_finished_processes,
)
from .expect import ExpectResult, expect, resize_process  # noqa: E402
from .process_async import expect_async, read_from_process_async, wait_for_process_async  # noqa: E402
from .process_killer import kill_process, kill_process_tree, kill_processes_by_name  # noqa: E402
from .process_manager_tools import (  # noqa: E402
    cleanup_finished_processes,
    communicate_with_process,
    get_active_processes,
    get_process_status,
    terminate_managed_process,
    wait_for_process,
)
from .process_reader import get_process_output_info, read_from_process  # noqa: E402
from .process_writer import (  # noqa: E402
    interrupt_process,
    send_signal_to_process,
    terminate_process,
    write_to_process,
)

__all__ = [
    "execute_command", "execute_command_async", "ExecutionMode", "ExecutionResult", "CommandExecutor",
    "get_default_executor",
    "read_from_process", "get_process_output_info",
    "write_to_process", "send_signal_to_process", "interrupt_process", "terminate_process",
    "kill_process", "kill_process_tree", "kill_processes_by_name",
    "get_active_processes", "get_process_status", "communicate_with_process",
    "terminate_managed_process", "cleanup_finished_processes", "wait_for_process",
    "ProcessManagerError", "CommandStartError", "CommandFailedError", "CommandTimeoutError",
    # agent workloads (issue 6)
    "expect", "ExpectResult", "resize_process", "pop_finished_processes",
    "wait_for_process_async", "read_from_process_async", "expect_async",
    # command policy and log redaction (issue 5)
    "CommandPolicy", "PolicyDecision", "redact_command", "DEFAULT_REDACTIONS",
]
