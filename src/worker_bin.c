/*
 * worker_bin.c - main() of seawatch-worker, the small executable the master
 * starts its workers from.  Linked statically and without libconfig or
 * libinotifytools, so that a worker's resident set is its own few pages,
 * not the shared libraries' (seawatchd --worker does the same job when the
 * helper is not installed).
 */
#include "worker.h"

int main(int argc, char **argv)
{
	return worker_main(argc, argv);
}
