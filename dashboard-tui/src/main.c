/* main.c - clustertop: parse the command line, run. */
#include "app.h"
#include "opts.h"
#include "profile/util.h"

int main(int argc, char **argv)
{
    util_progname = "clustertop";
    ct_opts_t o;
    int rc = ct_opts_parse(&o, argc, argv);
    if (rc > 0)
        return 0;
    if (rc < 0)
        return 2;
    return app_run(&o);
}
