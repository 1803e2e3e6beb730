/* The little the tool needs from the OS, apart from cshm itself. */
#ifndef CSHM_TOOLS_PLATFORM_H
#define CSHM_TOOLS_PLATFORM_H

/* Remembers how the tool was started (for cshm_tool_run_self). */
void cshm_tool_init(const char *argv0);

/* This process's id. */
unsigned cshm_tool_pid(void);

/* Runs this program again with args (NULL-terminated, without the program name),
 * waits for it, and returns its exit status (-1 when it could not run or died). */
int cshm_tool_run_self(const char *const args[]);

/* Blocks until Ctrl-C, SIGTERM or SIGHUP (Unix) / a console close (Windows). */
void cshm_tool_wait_for_interrupt(void);

/* What the demo says once the last process detached and the segment is gone. */
const char *cshm_tool_ownership_note(void);

#endif
