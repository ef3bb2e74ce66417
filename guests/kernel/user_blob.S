/* user_blob.S -- the user programs' flat image (user.bin, linked at
 * USER_BASE), embedded in the kernel; proc_spawn copies it into each new
 * address space. */
    .section .rodata.user, "a"
    .balign 4096
    .globl user_image, user_image_end
user_image:
    .incbin USER_BIN
user_image_end:
