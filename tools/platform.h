/* The little the tool needs from the OS, apart from cshm itself. */
#ifndef CSHM_TOOLS_PLATFORM_H
#define CSHM_TOOLS_PLATFORM_H

/* The tool itself (cshm.c), called by the platform's entry point with the
 * arguments in UTF-8 (Windows: converted from wmain's UTF-16). */
int cshm_tool_main(int argc, char **argv);

/* Remembers how the tool was started (for cshm_tool_run_self). */
void cshm_tool_init(const char *argv0);

/* This process's id. */
unsigned cshm_tool_pid(void);

/* Milliseconds on a monotonic clock (for timeouts that span several calls). */
unsigned long long cshm_tool_now_ms(void);

/* Runs this program again with args (NULL-terminated, without the program name),
 * waits for it, and returns its exit status (-1 when it could not run or died). */
int cshm_tool_run_self(const char *const args[]);

/* From now on, Ctrl-C, SIGTERM and SIGHUP (Unix) / console events (Windows) are kept
 * for cshm_tool_wait_for_interrupt() instead of ending the process: call it before
 * telling anyone that the tool is ready to be interrupted. */
void cshm_tool_hold_interrupts(void);

/* Blocks until an interrupt held by cshm_tool_hold_interrupts() arrives. */
void cshm_tool_wait_for_interrupt(void);

/* Without blocking: the signal number of an interrupt held by
 * cshm_tool_hold_interrupts() that has arrived (Windows: 2, SIGINT's number, for
 * any console event), or 0 when none has. For a command that waits in slices. */
int cshm_tool_interrupt_pending(void);

/* What the demo says once the last process detached and the segment is gone. */
const char *cshm_tool_ownership_note(void);

#endif
