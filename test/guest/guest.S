/*
 * The test guest: a 32-bit multiboot (v1) kernel for migration tests.
 *
 * Boot: qemu-system-x86_64 -M pc -m 64 -kernel guest.elf -serial ...
 *
 * It prints "BOOT" once on COM1, then loops forever over a memory region
 * (32 MiB from 16 MiB, clamped to the RAM the loader reports), one pass after
 * another.  Pass P checks that every page still holds what pass P-1 wrote
 * there (dword 0: the pass number, dword 1: the page index), counts the pages
 * that do not, and writes P and the index.  So every page is dirtied all the
 * time, and pages lost or stale after a migration show up as errors.
 *
 * Paced by rdtsc (calibrated against PIT channel 2 at boot), it prints one
 * line every ~150 ms of running time, in one burst:
 *
 *	count N pass P errors E
 *
 * N = 1, 2, 3, ... lives in guest RAM, so after a live migration the
 * destination goes on with N+1.  Lines end with "\n" alone.
 */

#define MB_MAGIC	0x1BADB002	/* in the header */
#define MB_BOOTED	0x2BADB002	/* in %eax at entry */
#define MB_FLAGS	0x00000002	/* bit 1: pass memory information */

#define COM1		0x3f8
#define LSR_THRE	0x20

#define REGION_BASE	0x01000000	/* 16 MiB */
#define REGION_SIZE	0x02000000	/* 32 MiB */
#define PAGE_SHIFT	12
#define TICK_PAGES	256		/* look at the clock every 1 MiB */

#define PIT_HZ		1193182
#define CAL_COUNT	(PIT_HZ / 20)	/* 50 ms on PIT channel 2 */
#define CAL_TIMES	3		/* print every 3 x 50 ms */
#define CAL_POLLS	20000000	/* give up on the PIT after this */
#define DEFAULT_TICKS	300000000	/* ... and assume 150 ms at 2 GHz */

	.section .multiboot, "a"
	.p2align 2
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	cld
	mov	$stack_top, %esp

	/* Region end: min(base + size, end of RAM above 1 MiB). */
	mov	$(REGION_BASE + REGION_SIZE), %edx
	cmp	$MB_BOOTED, %eax
	jne	1f
	testb	$1, (%ebx)		/* mem_lower/mem_upper valid? */
	jz	1f
	mov	8(%ebx), %eax		/* mem_upper, KiB above 1 MiB */
	shl	$10, %eax
	add	$0x100000, %eax
	cmp	%edx, %eax
	jae	1f
	mov	%eax, %edx
1:	xor	%eax, %eax
	sub	$REGION_BASE, %edx
	jbe	2f			/* no RAM above the base: no pages */
	shr	$PAGE_SHIFT, %edx
	mov	%edx, %eax
2:	mov	%eax, npages

	/* Our own flat GDT, so nothing depends on the loader's. */
	lgdt	gdt_desc
	ljmp	$0x08, $3f
3:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%ax, %fs
	mov	%ax, %gs

	call	uart_init
	mov	$msg_boot, %esi
	call	puts

	call	calibrate
	rdtsc
	mov	%eax, last_tsc
	mov	%edx, last_tsc + 4

/* The dirtying/verifying loop.  %ebp = this pass, %ebx = the previous one,
 * %edi = page address, %ecx = page index. */
pass_loop:
	incl	pass
	mov	pass, %ebp
	lea	-1(%ebp), %ebx
	mov	$REGION_BASE, %edi
	xor	%ecx, %ecx
page_loop:
	cmp	npages, %ecx
	jae	pass_done
	cmp	$1, %ebp		/* the first pass has nothing to check */
	je	2f
	cmp	%ebx, (%edi)
	jne	1f
	cmp	%ecx, 4(%edi)
	je	2f
1:	incl	errors
2:	mov	%ebp, (%edi)
	mov	%ecx, 4(%edi)
	add	$(1 << PAGE_SHIFT), %edi
	inc	%ecx
	test	$(TICK_PAGES - 1), %ecx
	jnz	page_loop
	call	tick
	jmp	page_loop
pass_done:
	call	tick
	jmp	pass_loop

/* tick: print the next count line if the period is over.  Keeps all
 * registers.  Should the TSC ever go backwards, the period restarts. */
tick:
	pushal
	rdtsc
	mov	%eax, %esi
	mov	%edx, %edi
	sub	last_tsc, %eax
	sbb	last_tsc + 4, %edx
	js	2f
	cmp	interval + 4, %edx
	ja	1f
	jb	3f
	cmp	interval, %eax
	jb	3f
1:	incl	count
	call	print_count
2:	mov	%esi, last_tsc
	mov	%edi, last_tsc + 4
3:	popal
	ret

/* print_count: build "count N pass P errors E\n", then send it at once. */
print_count:
	mov	$line, %edi
	mov	$msg_count, %esi
	call	append
	mov	count, %eax
	call	utoa
	mov	$msg_pass, %esi
	call	append
	mov	pass, %eax
	call	utoa
	mov	$msg_errors, %esi
	call	append
	mov	errors, %eax
	call	utoa
	movb	$'\n', %al
	stosb
	movb	$0, %al
	stosb
	mov	$line, %esi
	jmp	puts

/* append: copy the string at %esi (without its NUL) to %edi. */
append:
	lodsb
	test	%al, %al
	jz	1f
	stosb
	jmp	append
1:	ret

/* utoa: write %eax in decimal to %edi. */
utoa:
	push	%ebx
	push	%ecx
	push	%edx
	mov	$10, %ebx
	xor	%ecx, %ecx
1:	xor	%edx, %edx
	div	%ebx
	push	%edx
	inc	%ecx
	test	%eax, %eax
	jnz	1b
2:	pop	%eax
	add	$'0', %al
	stosb
	loop	2b
	pop	%edx
	pop	%ecx
	pop	%ebx
	ret

/* calibrate: interval = TSC ticks in CAL_TIMES x 50 ms, measured on PIT
 * channel 2 (mode 0, its OUT read back on port 0x61 bit 5). */
calibrate:
	in	$0x61, %al
	and	$0xfc, %al		/* speaker off */
	or	$0x01, %al		/* gate channel 2 on */
	out	%al, $0x61
	mov	$0xb0, %al		/* channel 2, lo/hi byte, mode 0, binary */
	out	%al, $0x43
	mov	$(CAL_COUNT & 0xff), %al
	out	%al, $0x42
	mov	$(CAL_COUNT >> 8), %al
	out	%al, $0x42
	rdtsc
	mov	%eax, %esi
	mov	%edx, %edi
	mov	$CAL_POLLS, %ecx
1:	in	$0x61, %al
	test	$0x20, %al
	jnz	2f
	loop	1b
	movl	$DEFAULT_TICKS, interval
	movl	$0, interval + 4
	ret
2:	rdtsc
	sub	%esi, %eax
	sbb	%edi, %edx
	/* times CAL_TIMES, 64-bit */
	mov	%eax, %esi
	mov	%edx, %edi
	mov	$(CAL_TIMES - 1), %ecx
3:	add	%esi, %eax
	adc	%edi, %edx
	loop	3b
	mov	%eax, interval
	mov	%edx, interval + 4
	ret

uart_init:
	mov	$(COM1 + 1), %dx	/* IER: no interrupts */
	xor	%al, %al
	out	%al, %dx
	mov	$(COM1 + 3), %dx	/* LCR: DLAB */
	mov	$0x80, %al
	out	%al, %dx
	mov	$COM1, %dx		/* divisor 1: 115200 baud */
	mov	$1, %al
	out	%al, %dx
	mov	$(COM1 + 1), %dx
	xor	%al, %al
	out	%al, %dx
	mov	$(COM1 + 3), %dx	/* LCR: 8N1 */
	mov	$0x03, %al
	out	%al, %dx
	mov	$(COM1 + 2), %dx	/* FCR: FIFO on, cleared */
	mov	$0x07, %al
	out	%al, %dx
	mov	$(COM1 + 4), %dx	/* MCR: DTR, RTS */
	mov	$0x03, %al
	out	%al, %dx
	ret

/* puts: send the NUL-terminated string at %esi. */
puts:
	lodsb
	test	%al, %al
	jz	2f
	mov	%al, %ah
	mov	$(COM1 + 5), %dx
1:	in	%dx, %al		/* wait for LSR: THR empty */
	test	$LSR_THRE, %al
	jz	1b
	mov	%ah, %al
	mov	$COM1, %dx
	out	%al, %dx
	jmp	puts
2:	ret

	.section .rodata
msg_boot:	.asciz "BOOT\n"
msg_count:	.asciz "count "
msg_pass:	.asciz " pass "
msg_errors:	.asciz " errors "

	.data
	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: code, flat 4 GiB */
	.quad	0x00cf92000000ffff	/* 0x10: data, flat 4 GiB */
gdt_desc:
	.word	gdt_desc - gdt - 1
	.long	gdt

	.bss
	.p2align 3
last_tsc:	.quad	0
interval:	.quad	0
npages:		.long	0
pass:		.long	0
count:		.long	0
errors:		.long	0
line:		.space	64
	.p2align 4
stack:		.space	4096
stack_top:
