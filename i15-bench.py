import json, sys
from bench import overhead
rows = overhead.run(rounds=int(sys.argv[1]), stream_tokens=200, latencies=(0.0,))
print(json.dumps(rows, default=str)[:3000])
