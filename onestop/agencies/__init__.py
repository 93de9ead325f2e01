"""The agency tree: province, its departments and communes, and their units, with official codes."""
