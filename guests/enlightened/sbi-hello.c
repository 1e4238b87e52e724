/*
 * sbi-hello - the smallest enlightened guest: starts in S-mode with the
 * hypervisor as its SBI firmware, prints through the debug console (DBCN),
 * asks the hypervisor who it is (hv hypercalls) and shuts down with SRST.
 */
#include "sbi.h"

int main(unsigned long hartid, void *dtb)
{
	long spec = sbi_spec_version();
	printf("Hello from an enlightened guest: S-mode, hart %lu\n", hartid);
	printf("SBI v%ld.%ld, implementation 0x%lx version 0x%lx, console %s\n",
	       (spec >> 24) & 0x7f, spec & 0xffffff, sbi_impl_id(), sbi_impl_version(),
	       console_has_dbcn ? "DBCN" : "legacy putchar");
	if (hv_available()) {
		printf("hypercalls at EID 0x%lx: partition %ld, vCPU %ld of %ld\n",
		       hv_eid(), hv_partition_id(), hv_vcpu_index(), hv_vcpu_count());
		long insns = hv_stat(HV_STAT_INSTRET);
		printf("instructions retired so far: %s\n", insns > 0 ? "some" : "none?");
	} else {
		printf("no hv hypercall extension: not running on hv\n");
	}
	printf("Goodbye (SRST shutdown)\n");
	return 0;
}
