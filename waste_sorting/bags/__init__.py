"""rosbag2 files (MCAP or sqlite3) written and read with the `rosbags` library."""
