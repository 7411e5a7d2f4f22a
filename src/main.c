/*
 * main.c - command line, start-up order, exit codes (SPEC §2).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "worker.h"

#define DEFAULT_CONFIG SYSCONFDIR "/seawatch/seawatch.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: seawatchd [-c FILE] [--once] [--check-config] [-v] [--cgroup DIR]\n"
		"                 [--version] [-h]\n"
		"  -c, --config FILE  config file (default " DEFAULT_CONFIG ")\n"
		"      --once         process the files already in every drop, then exit\n"
		"                     (exit 1 if any ended in failed)\n"
		"      --check-config validate the config, print a summary, exit\n"
		"  -v, --verbose      log at debug level\n"
		"      --cgroup DIR   run commands in cgroups under DIR (cgroup v2), killed\n"
		"                     whole; default: the daemon's own if delegated to it\n"
		"      --version      print the version\n"
		"  -h, --help         this help\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = DEFAULT_CONFIG;
	struct master_opts mo = { 0, 0, NULL };
	struct sw_config *cfg;
	char *errs = NULL;
	int check = 0, c;

	/* Nothing the daemon makes (spool, copies, sidecars) is for others;
	 * commands inherit it too. */
	umask(027);
	if (argc >= 2 && !strcmp(argv[1], "--worker"))
		return worker_main(argc, argv);
	while ((c = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			mo.once = 1;
			break;
		case 'k':
			check = 1;
			break;
		case 'v':
			mo.verbose = 1;
			break;
		case 'g':
			mo.cgroup = optarg;
			break;
		case 'V':
			printf("seawatchd %s\n", SW_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "seawatchd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	cfg = cnf_load(file, &errs);
	if (!cfg) {
		fputs(errs ? errs : "seawatchd: cannot load the config\n", stderr);
		free(errs);
		return 2;
	}
	if (check) {
		cnf_summary(cfg, stdout);
		if (cfg->warnings)
			fputs(cfg->warnings, stdout);
		cnf_free(cfg);
		return 0;
	}
	log_open(cfg->log_target, mo.verbose ? SW_LOG_DEBUG : cfg->log_level, "seawatchd");
	return master_run(cfg, &mo);
}
