"""Work queues (what each role has to do next) and the dashboard of the lab's figures."""
