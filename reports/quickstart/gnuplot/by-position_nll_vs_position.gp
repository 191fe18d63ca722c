# by-position_nll_vs_position — written by `bench report`. Redraw from the report folder: gnuplot gnuplot/by-position_nll_vs_position.gp
set encoding utf8
$d0 << EOD
0 3.101449178 0
128 3.457895961 0
256 3.237757481 0
384 3.986030292 0
512 4.317379341 0
640 4.25043192 0
768 4.165045836 0
896 4.604682844 0
1024 4.371349233 0
1152 4.494699762 0
1280 4.510171329 0
1408 4.650472684 0
1536 4.343443291 0
1664 4.268784715 0
1792 4.453980268 0
1920 4.584740968 0
EOD
$d1 << EOD
0 3.199674289 0
128 3.534141548 0
256 3.137694019 0
384 3.447011166 0
512 3.465427361 0
640 3.381960562 0
768 3.386078634 0
896 3.390788313 0
1024 3.360633058 0
1152 3.497725411 0
1280 3.48420908 0
1408 3.51954582 0
1536 3.219592545 0
1664 3.11541677 0
1792 3.516177465 0
1920 3.486111661 0
EOD
set terminal pngcairo size 800,560 font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'by-position_nll_vs_position.png'
set border 3 linewidth 1
set tics nomirror out scale 0.6
set grid xtics ytics mytics linecolor rgb '#e6e6e6' linewidth 0.6 dashtype 1, linecolor rgb '#f2f2f2' linewidth 0.5
set key top left reverse Left samplen 2 spacing 1.15 font ',15' opaque box linecolor rgb '#ffffff'
set xlabel 'Position in the window (tokens)' noenhanced
set ylabel 'Mean NLL (nats/token)' noenhanced
set offsets 0, 0, graph 0.05, graph 0.05
set arrow from first 256, graph 0 to first 256, graph 1 nohead dashtype 3 linecolor rgb '#777777' linewidth 1 back
set label 20 '256' noenhanced at first 256, graph 0.04 left offset 0.5,0 textcolor rgb '#555555' font ',13'
plot $d0 using 1:2 with linespoints pointtype 7 pointsize 1.2 linewidth 1.5 linecolor rgb '#0072B2' title 'native' noenhanced, \
     $d1 using 1:2 with linespoints pointtype 5 pointsize 1.2 linewidth 1.5 linecolor rgb '#D55E00' title 'yarn_x8' noenhanced
set terminal svg size 800,560 dynamic font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'by-position_nll_vs_position.svg'
replot
unset output
