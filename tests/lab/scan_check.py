#!/usr/bin/python3
"""Compare `ecntrace scan` NDJSON with the lab's ground truth.

    scan_check.py sample TRUTH N SEED         N random addresses of each prefix
                                              of TRUTH that no other line splits
                                              (one per line)
    scan_check.py check TRUTH TARGETS NDJSON  the comparison, as shell
                                              assignments (KEY=VALUE)
    scan_check.py targets NDJSON              the targets that have an object
    scan_check.py summary NDJSON KEY          a member of the summary object
    scan_check.py truth TRUTH ADDR            "VERDICT SITES" of one address

TRUTH is `ecnlab env`'s SCAN_TRUTH: "PREFIX VERDICT ROUTER HOP ADDR4 ADDR6
SITES" lines, the most specific prefix holds. TARGETS is the list that was
scanned (one address a line). The check counts, per target, whether the
verdict is the truth: a dependent target must be "broken", ecn_dependent
true, split at the truth's router (address of the target's family) and hop;
a healthy one "healthy", ecn_dependent false, and never more machines than
the truth has sites. The summary's routers must be exactly the truth's
routers of the dependent targets scanned, each with exactly those targets.
"""
import ipaddress
import json
import random
import sys


def load_truth(path):
    rows = []
    for line in open(path):
        w = line.split()
        if not w or w[0].startswith("#"):
            continue
        rows.append({"net": ipaddress.ip_network(w[0]), "verdict": w[1], "router": w[2],
                     "hop": None if w[3] == "-" else int(w[3]), "addr4": w[4], "addr6": w[5],
                     "sites": int(w[6])})
    rows.sort(key=lambda r: -r["net"].prefixlen)
    return rows


def truth_of(rows, a):
    for r in rows:
        if r["net"].version == a.version and a in r["net"]:
            return r
    return None


def read_ndjson(path):
    objs = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        try:
            objs.append(json.loads(line))
        except ValueError:
            objs.append({"_bad": line[:80]})
    return objs


def sample(truth, n, seed):
    rows = load_truth(truth)
    rnd = random.Random(seed)
    out = []
    for r in sorted(rows, key=lambda r: (r["net"].version, r["net"].network_address)):
        if any(x is not r and x["net"].version == r["net"].version and r["net"].subnet_of(x["net"])
               for x in rows):
            continue  # the blocks are sampled through their prefix
        seen = set()
        size = r["net"].num_addresses
        while len(seen) < min(n, size):
            seen.add(rnd.randrange(size))
        out += [str(r["net"].network_address + i) for i in sorted(seen)]
    print("\n".join(out))


def check(truth, targets, ndjson):
    rows = load_truth(truth)
    want = [ipaddress.ip_address(l.strip()) for l in open(targets) if l.strip()]
    objs = read_ndjson(ndjson)
    c = dict(LINES=0, BAD_LINES=0, DUPS=0, MISSING=0, EXTRA=0, EXP_DEP=0, EXP_HEALTHY=0,
             FOUND=0, WRONG_ROUTER=0, MISSED=0, FALSE_POS=0, HEALTHY_OK=0, INCONCL=0,
             MACHINES_BAD=0, SUMMARY=0, ROUTERS_OK=0, SCHEMA_BAD=0)
    detail = []
    got = {}
    summary = None
    for o in objs:
        if "_bad" in o:
            c["BAD_LINES"] += 1
            continue
        if o.get("schema") != "ecntrace/1" or o.get("command") != "scan":
            c["SCHEMA_BAD"] += 1
        if "summary" in o:
            summary = o
            continue
        c["LINES"] += 1
        try:
            a = ipaddress.ip_address(o.get("target"))
        except ValueError:
            c["BAD_LINES"] += 1
            continue
        if a in got:
            c["DUPS"] += 1
        got[a] = o
    wset = set(want)
    c["EXTRA"] = sum(1 for a in got if a not in wset)
    exp_routers = {}
    for a in want:
        t = truth_of(rows, a)
        o = got.get(a)
        dep = t is not None and t["verdict"] == "dependent"
        if dep:
            c["EXP_DEP"] += 1
            key = (t["addr%d" % a.version], t["hop"])
            exp_routers.setdefault(key, set()).add(a)
        else:
            c["EXP_HEALTHY"] += 1
        if o is None:
            c["MISSING"] += 1
            continue
        st = o.get("status")
        sp = o.get("split") or {}
        if st == "inconclusive":
            c["INCONCL"] += 1
        if dep:
            if st == "broken" and o.get("ecn_dependent") is True:
                if sp.get("addr") == t["addr%d" % a.version] and sp.get("hop") == t["hop"]:
                    c["FOUND"] += 1
                else:
                    c["WRONG_ROUTER"] += 1
                    detail.append("%s split %s at hop %s (truth %s at %s)" % (
                        a, sp.get("addr"), sp.get("hop"), t["addr%d" % a.version], t["hop"]))
            else:
                c["MISSED"] += 1
                detail.append("%s %s dependent=%s (truth dependent)" % (a, st, o.get("ecn_dependent")))
        else:
            if st == "broken" or o.get("ecn_dependent") is True or o.get("split"):
                c["FALSE_POS"] += 1
                detail.append("%s %s dependent=%s split=%s (truth healthy)" % (
                    a, st, o.get("ecn_dependent"), sp.get("addr")))
            elif st == "healthy" and o.get("ecn_dependent") is False:
                c["HEALTHY_OK"] += 1
        m = o.get("machines")
        sites = t["sites"] if t else 1
        if not isinstance(m, int) or m > sites or (sites == 1 and st == "healthy" and m != 1):
            c["MACHINES_BAD"] += 1
            detail.append("%s machines %s (truth %d sites)" % (a, m, sites))
    if summary is not None:
        c["SUMMARY"] = 1
        got_routers = {}
        for r in summary.get("routers") or []:
            got_routers[(r.get("addr"), r.get("hop"))] = set(
                ipaddress.ip_address(x) for x in r.get("targets") or [])
        c["ROUTERS_OK"] = int(got_routers == exp_routers)
        c["ROUTERS"] = " ".join("%s@%s:%d" % (k[0], k[1], len(v)) for k, v in sorted(
            got_routers.items(), key=lambda kv: str(kv[0]))) or "none"
        if not c["ROUTERS_OK"]:
            detail.append("routers %s, truth %s" % (c["ROUTERS"], " ".join(
                "%s@%s:%d" % (k[0], k[1], len(v)) for k, v in exp_routers.items()) or "none"))
    else:
        c["ROUTERS"] = "none"
    c["DETAIL"] = "; ".join(detail[:4])
    for k, v in c.items():
        print("%s='%s'" % (k, str(v).replace("'", "")))


def targets(ndjson):
    for o in read_ndjson(ndjson):
        if "target" in o and "summary" not in o:
            print(o["target"])


def summary(ndjson, key):
    for o in read_ndjson(ndjson):
        if "summary" in o:
            v = o["summary"].get(key)
            print("" if v is None else v)
            return


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "sample" and len(sys.argv) == 5:
        sample(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "check" and len(sys.argv) == 5:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "targets" and len(sys.argv) == 3:
        targets(sys.argv[2])
    elif cmd == "truth" and len(sys.argv) == 4:
        t = truth_of(load_truth(sys.argv[2]), ipaddress.ip_address(sys.argv[3]))
        print("%s %d" % (t["verdict"], t["sites"]) if t else "none 0")
    elif cmd == "summary" and len(sys.argv) == 4:
        summary(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
