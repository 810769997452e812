"""Loads pipelines/dags with Airflow and, with `test`, runs the pipe DAG once with dag.test().

    python run_dag.py check DAGS_DIR OUT.json             # the DagBag imports with no errors; writes the DAG's tasks
    python run_dag.py test DAGS_DIR OUT.json CONF_JSON    # runs the DAG in this process; writes every task's state and result

Run by pipelines/airflow_test.go with the Airflow of scripts/peers.sh, AIRFLOW_HOME in a
temporary directory and its SQLite database migrated. The result goes to OUT.json, since
Airflow logs to stdout.
"""
import json
import sys

from airflow.dag_processing.dagbag import DagBag

DAG_ID = "pipe"


def load(dags_dir):
    bag = DagBag(dag_folder=dags_dir)
    if bag.import_errors:
        for path, err in bag.import_errors.items():
            print("import error in %s:\n%s" % (path, err), file=sys.stderr)
        sys.exit(1)
    dag = bag.get_dag(DAG_ID)
    if dag is None:
        sys.exit("no DAG %r in %s (found %s)" % (DAG_ID, dags_dir, sorted(bag.dag_ids)))
    return bag, dag


def write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def check(dags_dir, out):
    bag, dag = load(dags_dir)
    tasks = {t.task_id: {"upstream": sorted(t.upstream_task_ids), "pool": t.pool,
                         "mapped": bool(getattr(t, "is_mapped", False))} for t in dag.tasks}
    write(out, {"dags": sorted(bag.dag_ids), "params": sorted(dag.params.keys()), "tasks": tasks})


def test(dags_dir, out, conf):
    _, dag = load(dags_dir)
    dr = dag.test(run_conf=json.loads(conf))
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    tis = []
    with create_session() as session:
        for ti in dr.get_task_instances(session=session):
            row = session.query(XComModel).filter(
                XComModel.dag_id == ti.dag_id, XComModel.run_id == ti.run_id, XComModel.task_id == ti.task_id,
                XComModel.map_index == ti.map_index, XComModel.key == "return_value").one_or_none()
            value = None
            if row is not None:
                value = row.value if not isinstance(row.value, (bytes, str)) else json.loads(row.value)
            tis.append({"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state), "result": value})
    tis.sort(key=lambda t: (t["task_id"], t["map_index"]))
    write(out, {"state": str(dr.state), "tasks": tis})


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        test(sys.argv[2], sys.argv[3], sys.argv[4])
