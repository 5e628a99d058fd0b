/* The commands main() dispatches to. Each parses its own options and
 * returns an exit code (see ecntrace.h). */
#ifndef ECNTRACE_COMMANDS_H
#define ECNTRACE_COMMANDS_H

#include <stdint.h>

int cmd_trace(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_diagnose(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_scan(int argc, char **argv);

/* Shared small helpers. */
int default_sport(void);

#endif
