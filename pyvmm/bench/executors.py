"""Where benchmark runs execute: in this process, in a pool of local worker
processes, or on an existing Dask cluster (`dask://HOST:PORT`, the optional
`dask` extra). Every executor maps pyvmm.bench.cell.run_spec over plain-dict
run specs and yields (index, result) as runs finish, so the caller can show
progress and merge results in a fixed order whatever order they came in.
"""

import os

from pyvmm.bench.techniques import TechniqueCrashed

DASK_CONNECT_TIMEOUT = "10s"


class ExecutorError(Exception):
    """An executor that cannot be used (one line)."""


def parse(text, jobs=None):
    """'local' or 'dask://HOST:PORT' -> an executor object."""
    if text == "local":
        return LocalExecutor(jobs or 1)
    if text.startswith("dask://"):
        address = text[len("dask://"):]
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ExecutorError(f"--executor {text}: expected dask://HOST:PORT")
        return DaskExecutor(f"tcp://{address}")
    raise ExecutorError(f"--executor {text}: expected local or dask://HOST:PORT")


class LocalExecutor:
    def __init__(self, jobs=1):
        if jobs < 1:
            raise ExecutorError(f"jobs must be at least 1, not {jobs}")
        self.jobs = jobs
        self.description = "in-process" if jobs == 1 else f"{jobs} local processes"

    def map(self, function, items):
        if self.jobs == 1 or len(items) <= 1:
            for index, item in enumerate(items):
                yield index, function(item)
            return
        import concurrent.futures
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(self.jobs, len(items))) as pool:
            futures = {pool.submit(function, item): index for index, item in enumerate(items)}
            try:
                for future in concurrent.futures.as_completed(futures):
                    yield futures[future], future.result()
            finally:
                # a run that raised (or a caller that stopped) leaves nothing queued behind
                pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    def __init__(self, address):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ExecutorError("--executor dask:// needs the optional dependency dask[distributed] "
                                "(pip install 'pyvmm[dask]')") from None
        self.address = address
        self.description = f"Dask cluster at {address}"

    def map(self, function, items):
        from distributed import Client, as_completed
        try:
            client = Client(self.address, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {self.address}: {exc}") \
                from None
        try:
            futures = client.map(function, items, pure=False)
            index_of = {future.key: index for index, future in enumerate(futures)}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except TechniqueCrashed:
                    raise                    # the run itself raised: not the cluster's doing
                except Exception as exc:     # anything else is the cluster failing to run it
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise ExecutorError(f"the Dask cluster at {self.address} could not run "
                                        f"{function.__module__}.{function.__name__} "
                                        f"({type(exc).__name__}: {first}); its scheduler and "
                                        "workers need pyvmm importable") from None
                yield index_of[future.key], result
        finally:
            client.close()


def default_jobs():
    return max(1, os.cpu_count() or 1)
