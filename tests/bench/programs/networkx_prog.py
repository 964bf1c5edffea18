"""NetworkX: a seeded random graph, its shortest paths, betweenness (sampled),
clustering, a spanning tree and connected components (a real program from
python3-networkx; pure Python, no numpy)."""
import sys

import networkx as nx

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
g = nx.gnm_random_graph(n, n * 4, seed=7)
bc = nx.betweenness_centrality(g, k=60, seed=7)
cl = nx.average_clustering(g)
mst = nx.minimum_spanning_tree(g)
lengths = dict(nx.single_source_shortest_path_length(g, 0))
cc = nx.number_connected_components(g)
print(len(bc), round(cl, 6), mst.number_of_edges(), len(lengths), cc)
