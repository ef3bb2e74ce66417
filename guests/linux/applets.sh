# The Debian busybox initramfs's applet tour, run by /init between the
# markers: the C library, the shell, text tools and floating point (awk and
# printf format doubles), so QEMU's output and pyvmm's can be compared byte
# for byte. Only what is the same on every run is printed (no times).
echo "---- /proc/cpuinfo ----"
# marchid and mimpid name the implementation (QEMU puts its version there);
# which hart id is processor 0 is OpenSBI's boot-hart lottery on QEMU's
# threads (the hart that gets there first), so the hart lines are left out.
cat /proc/cpuinfo | grep -v -e '^marchid' -e '^mimpid' -e '^hart[[:space:]]*:'

echo "---- ls ----"
ls /bin | head -n 8
ls -l /etc/initrd-modules /etc/applets.sh | awk '{ print $1, $5, $NF }'
echo "---- seq | sort ----"
seq 1 12 | sort -n -r | tr '\n' ' '
echo
seq -w 7 3 31 | sort | tr '\n' ' '
echo
echo "---- awk ----"
awk 'BEGIN { for (i = 1; i <= 6; i++) printf "%d %.9f %.6e %.3f %d\n", i, i / 3, i * 1.5e-7 / 9, i * i * 1024.5, int(1e6 / i) }'
awk 'BEGIN { x = 0; for (i = 1; i <= 1000; i++) x += 1 / i; printf "harmonic %.12f\n", x }'
echo "3.5 1.25 -0.125 1e300 2.5e-300" | awk '{ for (i = 1; i <= NF; i++) s = s " " ($i * 3); print "scaled" s }'
echo "---- dd | sha256sum ----"
dd if=/dev/zero bs=4096 count=16 2>/dev/null | sha256sum
seq 1 5000 | sha256sum
echo "---- printf ----"
printf '%5.2f|%-8s|%x|%e\n' 3.14159 busybox 48879 0.000123
