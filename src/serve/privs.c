/* privs.c — dropping root after the listeners are bound.
 *
 * Changes to the configured user and group with no supplementary groups and
 * keeps exactly one capability, CAP_NET_BIND_SERVICE, so that a reload can
 * still bind a new address at port 443 (as the root masters of HAProxy,
 * nginx and hitch can); if that one cannot be kept, every capability goes.
 * Started unprivileged (systemd's User=), there is nothing to drop.  Called
 * once, from the main thread, before any worker thread exists.
 */
#include "edge443/serve/privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "edge443/base/log.h"

/* Permitted and effective capabilities: CAP_NET_BIND_SERVICE alone, or
 * none (glibc has no capset wrapper; libcap would add a dependency for one
 * call). */
int privs_set_caps(bool bind)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	unsigned idx = CAP_TO_INDEX(CAP_NET_BIND_SERVICE);

	memset(data, 0, sizeof(data));
	if (bind) {
		data[idx].permitted = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
		data[idx].effective = CAP_TO_MASK(CAP_NET_BIND_SERVICE);
	}
	return (int)syscall(SYS_capset, &hdr, data);
}

int privs_drop(const char *user, const char *pidfile, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user && getuid() != 0) {
		/* Started unprivileged (systemd's User=): nothing to drop;
		 * say so when it is not the user the file names. */
		struct passwd *me = getpwuid(getuid());
		if (!me || strcmp(me->pw_name, user) != 0)
			log_warn(
				"user = \"%s\" is ignored: edge443 was started "
				"as %s, not as root, so it keeps running as "
				"that user",
				user, me ? me->pw_name : "an unknown user");
		return 0;
	}
	if (!user)
		return 0;
	pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen,
			 "user \"%s\" does not exist — create it, or remove "
			 "the user option",
			 user);
		return -1;
	}
	/* So the pid file can at least be emptied at exit. */
	if (pidfile && chown(pidfile, pw->pw_uid, pw->pw_gid) < 0)
		snprintf(err, errlen, "cannot hand the pid file to \"%s\"",
			 user);
	/* Keep the permitted capabilities across setuid, then keep only
	 * CAP_NET_BIND_SERVICE: a reload may add a listener on port 443, as
	 * the root master of HAProxy, nginx and hitch can.  No thread exists
	 * yet: the workers inherit this set. */
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0 ||
	    setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot drop privileges to \"%s\": %s",
			 user, strerror(errno));
		return -1;
	}
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (privs_set_caps(true) == 0)
		return 0;
	log_warn("kept no CAP_NET_BIND_SERVICE after dropping to \"%s\" "
		 "(%s): a reload cannot bind new addresses below port 1024",
		 user, strerror(errno));
	/* KEEPCAPS kept every permitted capability: never run with them. */
	if (privs_set_caps(false) < 0) {
		snprintf(err, errlen,
			 "cannot drop the capabilities kept across the change "
			 "to \"%s\": %s",
			 user, strerror(errno));
		return -1;
	}
	return 0;
}
