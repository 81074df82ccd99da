"""A local session writes `file:` paths through lakehouse.hadoop.NoForkLocalFileSystem (engine/local_fs.py):
Hadoop's local file system without a `chmod` / `readlink` process per file, same files, same permissions."""
from __future__ import annotations

import os
import stat

from lakehouse.engine.local_fs import CLASS


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_file_paths_go_through_the_compiled_file_system_and_keep_hadoops_permissions(spark, tmp_path):
    jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()
    root = jvm.java.net.URI("file:///")
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(root, conf)
    assert fs.getClass().getName() == CLASS  # `make install` compiled it; a missing step fails here
    context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(root, conf)  # Delta commits rename through it
    assert context.getDefaultFileSystem().getClass().getName() == f"{CLASS}$Fs"

    table = str(tmp_path / "t")
    rows = spark.range(40).selectExpr("id", "cast(id % 4 as string) AS dt")
    rows.write.format("delta").partitionBy("dt").save(table)
    rows.where("dt = '1'").selectExpr("id * 10 AS id", "dt").write.format("delta").mode("overwrite") \
        .option("replaceWhere", "dt = '1'").save(table)  # a second commit renamed into place next to the first
    back = {(r.id, r.dt) for r in spark.read.format("delta").load(table).collect()}
    assert back == {(i * 10 if i % 4 == 1 else i, str(i % 4)) for i in range(40)}
    commits = sorted(p.name for p in (tmp_path / "t" / "_delta_log").glob("*.json"))
    assert commits == ["00000000000000000000.json", "00000000000000000001.json"]

    umask = os.umask(0)
    os.umask(umask)
    hadoop_umask = int(conf.get("fs.permissions.umask-mode", "022"), 8)
    data = next(p for p in (tmp_path / "t" / "dt=1").iterdir() if p.suffix == ".parquet")
    assert _mode(data) == 0o666 & ~hadoop_umask  # what Hadoop's `chmod` gave each file, through java.nio
    assert _mode(tmp_path / "t" / "dt=1") == 0o777 & ~hadoop_umask
    assert (tmp_path / "t" / "dt=1" / f".{data.name}.crc").is_file()  # checksums as before


def test_symbolic_links_and_sticky_bits_are_left_to_hadoops_own_code(spark, tmp_path):
    jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf).getRaw()
    target = tmp_path / "target"
    target.write_text("x")
    (tmp_path / "link").symlink_to(target)
    Path = jvm.org.apache.hadoop.fs.Path
    assert fs.getFileLinkStatus(Path(str(tmp_path / "link"))).isSymlink()
    assert not fs.getFileLinkStatus(Path(str(target))).isSymlink()
    shared = tmp_path / "shared"
    shared.mkdir()
    fs.setPermission(Path(str(shared)), jvm.org.apache.hadoop.fs.permission.FsPermission("1777"))
    assert os.stat(shared).st_mode & 0o7777 == 0o1777  # java.nio cannot set a sticky bit: Hadoop's chmod did
    fs.setPermission(Path(str(target)), jvm.org.apache.hadoop.fs.permission.FsPermission("640"))
    assert _mode(target) == 0o640


def test_install_compiles_the_jar_once_and_a_machine_without_javac_keeps_hadoops_own(tmp_path, monkeypatch, capsys):
    import zipfile

    from lakehouse.config import Settings
    from lakehouse.engine import local_fs
    from lakehouse.engine.spark import _builder_conf

    monkeypatch.setattr(local_fs, "cache_dir", lambda: tmp_path)
    built = local_fs.build()
    assert built is not None and built.parent == tmp_path and local_fs.installed() == built
    assert {"lakehouse/hadoop/NoForkLocalFileSystem.class", "lakehouse/hadoop/NoForkLocalFileSystem$Fs.class"} <= \
        set(zipfile.ZipFile(built).namelist())
    stamp = built.stat().st_mtime_ns
    assert local_fs.build() == built and built.stat().st_mtime_ns == stamp  # once: the class archive keys on it

    built.unlink()
    monkeypatch.setattr(local_fs, "jdk_tool", lambda name: None)  # a JRE without a compiler
    assert local_fs.build() is None and "no javac" in capsys.readouterr().out
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "local[2]")
    conf = _builder_conf(Settings.from_env())
    assert not local_fs.CONF.keys() & conf.keys() and str(built) not in conf["spark.driver.extraClassPath"]
