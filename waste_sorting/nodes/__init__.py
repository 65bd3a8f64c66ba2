"""The four ROS 2 nodes: thin adapters around the ROS-free core."""
