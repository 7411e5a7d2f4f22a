/*
 * worker.h - a worker process (owned by src/worker.c).  The master starts
 * each worker by fork+exec of its own binary ("seawatchd --worker UID GID"),
 * with the master's socket on fd 3.  A worker runs one command at a time
 * under the command contract (SPEC §4) and reports how it ended.
 */
#ifndef SW_WORKER_H
#define SW_WORKER_H

#define WORKER_FD 3

/* Never returns to the caller's logic: the value is the exit status. */
int worker_main(int argc, char **argv);

#endif
