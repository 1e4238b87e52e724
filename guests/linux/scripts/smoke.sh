# A short session: what a person would type first, then power off.
echo "hv-linux: smoke test on $(uname -r), $(grep -c ^processor /proc/cpuinfo) harts"
uname -a
ls /dev >/dev/null && echo "hv-linux: /dev lists $(ls /dev | wc -l) entries"
if [ -b /dev/vda ]; then
  mount -t ext2 /dev/vda /mnt 2>/dev/null || { mke2fs -q /dev/vda && mount -t ext2 /dev/vda /mnt; }
  echo "$(hostname) was here" >>/mnt/visits
  echo "hv-linux: disk has $(wc -l </mnt/visits) visits"
  umount /mnt
fi
poweroff
