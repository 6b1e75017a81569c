"""What a restart of vxmesh reads from its state file: the file, with the journal beside it
(PATH.journal) made to its peers, endpoints and load balancers (control/network_state.hpp).
Written apart from vxmesh's own reader, so that a test reading the files checks the format
as documented in config/README.md ("State file").

    python3 state_file.py PATH   prints the state as JSON
"""
import json
import sys


def read_state(path):
    with open(path) as f:
        state = json.load(f)
    written = state.get("journal", 0)
    try:
        with open(path + ".journal") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    lines = text.split("\n")[:-1]  # a last record without its newline was never acknowledged
    key = {
        "peers": lambda o: o["name"],
        "endpoints": lambda o: o["name"],
        "load_balancers": lambda o: (o["network"], o["node"]),
    }
    lists = {k: {key[k](o): o for o in state.get(k, [])} for k in key}
    for line in lines:
        record = json.loads(line)
        if record["seq"] <= written:
            continue
        change = record["change"]
        for name in change.get("removed_peers", []):
            lists["peers"].pop(name, None)
        for name in change.get("removed_endpoints", []):
            lists["endpoints"].pop(name, None)
        for lb in change.get("removed_load_balancers", []):
            lists["load_balancers"].pop((lb["network"], lb["node"]), None)
        for k in key:
            for o in change.get("added_" + k, []):
                lists[k][key[k](o)] = o
    for k in key:
        state[k] = list(lists[k].values())
    return state


if __name__ == "__main__":
    json.dump(read_state(sys.argv[1]), sys.stdout, indent=2)
