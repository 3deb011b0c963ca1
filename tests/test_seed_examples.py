"""Every example of the seed README (seed/ProcessManager-README.md), run as
written.  Changes, each marked "# seed: ...": programs that do not exist
here are replaced by small scripts written to a temporary directory, the
literal pid 12345 by the pid of a process the test started, and the
kill-by-name target "python" by a uniquely named program (never a common
name).  The examples run in one namespace per test, as in a session where
the README's imports were done first.
"""

from __future__ import annotations

import shlex
import stat
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import Core.ProcessManager as pm

PY = shlex.quote(sys.executable)  # seed: "python" (may not be on PATH)

INTERACTIVE_SCRIPT = """\
import sys
print("ready", flush=True)
for line in sys.stdin:
    print("got " + line.strip(), flush=True)
    print("echoed to stderr", file=sys.stderr, flush=True)
"""
SERVER_SCRIPT = """\
import sys, time
print("serving", flush=True)
for line in sys.stdin:
    print("pong" if line.strip() == "ping" else "?", flush=True)
time.sleep(30)
"""
TASK_SCRIPT = "import time\nprint('working', flush=True)\ntime.sleep(0.2)\nprint('done')\n"


@pytest.fixture
def seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A namespace with the README's imports, run from a directory that
    holds the scripts the examples name."""
    (tmp_path / "interactive_script.py").write_text(INTERACTIVE_SCRIPT)
    (tmp_path / "server.py").write_text(SERVER_SCRIPT)
    (tmp_path / "long_running_server.py").write_text(SERVER_SCRIPT)
    (tmp_path / "long_running_task.py").write_text(TASK_SCRIPT)
    (tmp_path / "sensitive_operation.py").write_text("import os\nprint(os.environ.get('PM_SECRET_TOKEN') is not None)\n")
    for name, body in (("risky_command.sh", "echo risky >&2\nexit 3\n"), ("build_project.sh", "echo built\n")):
        script = tmp_path / name
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec("from Core.ProcessManager import *", namespace)
    yield namespace


def run(namespace: dict[str, Any], code: str) -> dict[str, Any]:
    exec(compile(textwrap.dedent(code), "<seed example>", "exec"), namespace)
    return namespace


def test_imports(seed: dict[str, Any]) -> None:
    run(seed, """
    from Core.ProcessManager import (
        # Interface principale
        execute_command,
        ExecutionMode,
        ExecutionResult,
        CommandExecutor
    )
    from Core.ProcessManager import (
        # Lecture de processus
        read_from_process,
        get_process_output_info,

        # Écriture vers processus
        write_to_process,
        send_signal_to_process,
        interrupt_process,
        terminate_process,

        # Gestion du cycle de vie
        kill_process,
        kill_process_tree,
        kill_processes_by_name
    )
    from Core.ProcessManager import (
        # Surveillance et communication
        get_active_processes,
        get_process_status,
        communicate_with_process,
        terminate_managed_process,
        cleanup_finished_processes
    )
    """)


def test_blocking(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, """
    # Exécution bloquante - attend la fin
    result = execute_command(
        command="echo installed",  # seed: "npm install" (no network here)
        mode=ExecutionMode.BLOCKING,
        timeout=300
    )

    print(f"Commande terminée: {result.success}")
    print(f"Code de retour: {result.return_code}")
    print(f"Sortie: {result.stdout}")
    """)
    assert capsys.readouterr().out == "Commande terminée: True\nCode de retour: 0\nSortie: installed\n\n"


def test_background(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, f"""
    # Exécution en arrière-plan
    result = execute_command(
        command="{PY} server.py",  # seed: "python server.py"
        mode=ExecutionMode.BACKGROUND
    )

    print(f"Processus démarré avec PID: {{result.pid}}")
    # Le processus continue en arrière-plan
    """)
    pid = seed["result"].pid
    assert capsys.readouterr().out == f"Processus démarré avec PID: {pid}\n"
    assert pm.get_process_status(pid)["status"] == "running"


def test_interactive(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, f"""
    # Exécution interactive avec communication
    def on_output(data):
        print(f"Sortie: {{data}}")

    def on_error(data):
        print(f"Erreur: {{data}}")

    result = execute_command(
        command="{PY} interactive_script.py",  # seed: "python interactive_script.py"
        mode=ExecutionMode.INTERACTIVE,
        on_output=on_output,
        on_error=on_error
    )
    """)
    pid = seed["result"].pid
    assert pm.communicate_with_process(pid, "hi\n", timeout=10)["success"]
    pm.write_to_process(pid, "", close_stdin=True)
    pm.wait_for_process(pid, timeout=10)
    out = capsys.readouterr().out
    assert "Sortie: ready\n" in out and "Sortie: got hi\n" in out


def test_monitored(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, f"""
    # Exécution surveillée avec callbacks
    def on_complete(result):
        print(f"Processus terminé: {{result.success}}")

    result = execute_command(
        command="{PY} long_running_task.py",  # seed: "long_running_task.py"
        mode=ExecutionMode.MONITORED,
        on_complete=on_complete,
        timeout=3600
    )
    """)
    _wait_printed(capsys, "Processus terminé: True\n")


def _wait_printed(capsys: pytest.CaptureFixture[str], expected: str) -> None:
    """Wait (up to 10 s) for a callback on the dispatcher thread to print."""
    seen = ""
    deadline = time.monotonic() + 10
    while expected not in seen and time.monotonic() < deadline:
        seen += capsys.readouterr().out
        time.sleep(0.01)
    assert expected in seen


@pytest.fixture
def server_pid(seed: dict[str, Any]) -> int:
    """The pid the examples call 12345: a server speaking on stdin/stdout."""
    r = pm.execute_command(f"{PY} server.py", mode=pm.ExecutionMode.INTERACTIVE)
    text = ""
    while not text.endswith("serving\n"):  # print() may write the newline separately
        got = pm.read_from_process(r.pid, timeout=10)
        assert got["success"] and not got["eof"]
        text += got["stdout"]
    seed["pid_12345"] = r.pid
    assert r.pid is not None
    return r.pid


def test_read(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    r = pm.execute_command("echo serving", mode=pm.ExecutionMode.BACKGROUND)
    pm.wait_for_process(r.pid, timeout=10)
    seed["pid_12345"] = r.pid
    run(seed, """
    from Core.ProcessManager import read_from_process, get_process_output_info

    # Lecture de la sortie d'un processus
    output = read_from_process(pid=pid_12345, timeout=10)  # seed: pid=12345

    # Informations sur la sortie
    info = get_process_output_info(pid=pid_12345)  # seed: pid=12345
    print(f"Taille: {info['size']}, Lignes: {info['lines']}")
    """)
    assert seed["output"]["stdout"] == "serving\n"
    assert capsys.readouterr().out == "Taille: 8, Lignes: 1\n"


def test_write_and_signal(seed: dict[str, Any], server_pid: int) -> None:
    run(seed, """
    from Core.ProcessManager import write_to_process, send_signal_to_process

    # Écriture vers un processus
    write_to_process(pid=pid_12345, data="input_data\\n")  # seed: pid=12345

    # Envoi de signal
    send_signal_to_process(pid=pid_12345, signal="SIGINT")  # seed: pid=12345
    """)
    assert pm.wait_for_process(server_pid, timeout=10)["success"]


def test_lifecycle(seed: dict[str, Any], api_unique_sleep: str) -> None:
    first = pm.execute_command([api_unique_sleep, "30"], mode=pm.ExecutionMode.BACKGROUND).pid
    tree = pm.execute_command(f"{api_unique_sleep} 30 & {api_unique_sleep} 30", mode=pm.ExecutionMode.BACKGROUND).pid
    pm.execute_command([api_unique_sleep, "30"], mode=pm.ExecutionMode.BACKGROUND)
    seed.update(first=first, tree=tree, unique_name=Path(api_unique_sleep).name)
    run(seed, """
    from Core.ProcessManager import (
        kill_process,
        kill_process_tree,
        kill_processes_by_name
    )

    # Arrêt d'un processus
    kill_process(pid=first, force=False)  # seed: pid=12345

    # Arrêt de l'arbre de processus
    kill_process_tree(pid=tree)  # seed: pid=12345

    # Arrêt par nom
    kill_processes_by_name(unique_name, force=True)  # seed: "python" (never a common name in tests)
    """)
    assert not pm.get_active_processes()


def test_watch(seed: dict[str, Any], server_pid: int, capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, """
    from Core.ProcessManager import get_active_processes, get_process_status

    # Liste des processus actifs
    active_processes = get_active_processes()
    for pid, info in active_processes.items():
        print(f"PID {pid}: {info['command']}")

    # Statut d'un processus spécifique
    status = get_process_status(pid=pid_12345)  # seed: pid=12345
    if status:
        print(f"Statut: {status['status']}")
        print(f"CPU: {status['cpu_percent']}%")
        print(f"Mémoire: {status['memory_info'].rss / 1024 / 1024:.1f} MB")
    """)
    out = capsys.readouterr().out
    assert f"PID {server_pid}: {sys.executable}" in out or f"PID {server_pid}: " in out
    assert "Statut: running\n" in out and "Mémoire: " in out


def test_communicate(seed: dict[str, Any], server_pid: int, capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, """
    from Core.ProcessManager import communicate_with_process

    # Communication avec un processus
    response = communicate_with_process(
        pid=pid_12345,  # seed: pid=12345
        data="ping\\n"
    )
    print(f"Réponse: {response}")
    """)
    assert seed["response"]["response"] == "pong\n"
    assert capsys.readouterr().out.startswith("Réponse: {")


def test_cleanup(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    pm.execute_command("true")
    run(seed, """
    from Core.ProcessManager import cleanup_finished_processes

    # Nettoyage des processus terminés
    cleaned_count = cleanup_finished_processes()
    print(f"{cleaned_count} processus nettoyés")
    """)
    assert capsys.readouterr().out == "1 processus nettoyés\n"


def test_simple_execution(seed: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seed["home_user"] = str(tmp_path)
    run(seed, """
    from Core.ProcessManager import execute_command, ExecutionMode

    # Exécution basique
    result = execute_command(
        command="ls -la",
        mode=ExecutionMode.BLOCKING,
        cwd=home_user,  # seed: "/home/user"
        timeout=30
    )

    if result.success:
        print(f"Fichiers: {result.stdout}")
    else:
        print(f"Erreur: {result.stderr}")
    """)
    out = capsys.readouterr().out
    assert out.startswith("Fichiers: ") and "interactive_script.py" in out


def test_interactive_usage(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, f"""
    # Exécution interactive avec callbacks
    def handle_output(data):
        print(f"Sortie: {{data.strip()}}")

    def handle_error(data):
        print(f"Erreur: {{data.strip()}}")

    def handle_complete(result):
        print(f"Terminé avec code: {{result.return_code}}")

    result = execute_command(
        command="{PY} -u interactive_script.py",  # seed: "python -u interactive_script.py"
        mode=ExecutionMode.INTERACTIVE,
        on_output=handle_output,
        on_error=handle_error,
        on_complete=handle_complete,
        input_data="user_input\\n"
    )
    """)
    pid = seed["result"].pid
    pm.write_to_process(pid, "", close_stdin=True)
    _wait_printed(capsys, "Terminé avec code: 0\n")


def test_long_running(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, f"""
    # Démarrage d'un processus long
    result = execute_command(
        command="{PY} long_running_server.py",  # seed: "python long_running_server.py"
        mode=ExecutionMode.BACKGROUND
    )

    if result.success:
        pid = result.pid
        print(f"Serveur démarré avec PID: {{pid}}")

        # Surveillance
        status = get_process_status(pid)
        if status and status['status'] == 'running':
            print("Serveur en cours d'exécution")

        # Arrêt propre
        terminate_process(pid, force=False)
    """)
    out = capsys.readouterr().out
    assert "Serveur en cours d'exécution\n" in out
    assert not pm.get_active_processes()


def test_error_handling(seed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, """
    try:
        result = execute_command(
            command="./risky_command.sh",  # seed: "risky_command.sh" (here, in the current directory)
            mode=ExecutionMode.BLOCKING,
            timeout=60
        )

        if not result.success:
            print(f"Commande échouée: {result.error}")
            print(f"Code de retour: {result.return_code}")
            print(f"Stderr: {result.stderr}")

    except Exception as e:
        print(f"Erreur d'exécution: {e}")
    """)
    assert capsys.readouterr().out == "Commande échouée: exit status 3\nCode de retour: 3\nStderr: risky\n\n"


@pytest.fixture
def user_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The user's own Core.Config and Core.LoggingProviders (namespace parts)."""
    root = tmp_path / "userproject"
    (root / "Core" / "Config").mkdir(parents=True)
    (root / "Core" / "Config" / "__init__.py").write_text("")
    (root / "Core" / "Config" / "secure_env_manager.py").write_text(textwrap.dedent("""
        import os
        class _Manager:
            def get_secure_environment(self):
                return {"PATH": os.environ["PATH"], "PM_SECRET_TOKEN": "s3cr3t"}
        def get_secure_env_manager():
            return _Manager()
        """))
    (root / "Core" / "LoggingProviders").mkdir()
    (root / "Core" / "LoggingProviders" / "__init__.py").write_text(textwrap.dedent("""
        class ConsoleLoggingProvider:
            def log_info(self, message, **fields):
                print("INFO", message, sorted(fields))
            def log_error(self, message, **fields):
                print("ERROR", message, sorted(fields))
        """))
    monkeypatch.syspath_prepend(str(root))
    yield
    for name in [m for m in sys.modules if m.startswith(("Core.Config", "Core.LoggingProviders"))]:
        del sys.modules[name]


def test_secure_env_manager(seed: dict[str, Any], user_core: None) -> None:
    run(seed, f"""
    from Core.ProcessManager import execute_command
    from Core.Config.secure_env_manager import get_secure_env_manager

    # Exécution avec environnement sécurisé
    secure_env = get_secure_env_manager()
    env_vars = secure_env.get_secure_environment()

    result = execute_command(
        command="{PY} sensitive_operation.py",  # seed: "sensitive_operation.py"
        env=env_vars,
        mode=ExecutionMode.BLOCKING
    )
    """)
    assert seed["result"].stdout == "True\n"


def test_logging_providers(seed: dict[str, Any], user_core: None, capsys: pytest.CaptureFixture[str]) -> None:
    run(seed, """
    from Core.ProcessManager import execute_command
    from Core.LoggingProviders import ConsoleLoggingProvider

    # Logging des opérations de processus
    logger = ConsoleLoggingProvider()

    def log_process_operation(result):
        if result.success:
            logger.log_info(
                "Commande exécutée avec succès",
                command=result.command,
                pid=result.pid,
                execution_time=result.execution_time
            )
        else:
            logger.log_error(
                "Échec de la commande",
                command=result.command,
                error=result.error,
                return_code=result.return_code
            )

    result = execute_command(
        command="./build_project.sh",  # seed: "build_project.sh" (here, in the current directory)
        on_complete=log_process_operation
    )
    """)
    assert capsys.readouterr().out == "INFO Commande exécutée avec succès ['command', 'execution_time', 'pid']\n"

