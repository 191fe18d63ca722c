# extrapolate_rope_spectrum — written by `bench report`. Redraw from the report folder: gnuplot gnuplot/extrapolate_rope_spectrum.gp
set encoding utf8
$d0 << EOD
0 1 0
1 0.4869675252 0
2 0.2371373706 0
3 0.1154781985 0
4 0.05623413252 0
5 0.02738419634 0
6 0.01333521432 0
7 0.006493816316 0
8 0.00316227766 0
9 0.001539926526 0
10 0.0007498942093 0
11 0.0003651741273 0
12 0.000177827941 0
13 8.659643234e-05 0
14 4.216965034e-05 0
15 2.053525026e-05 0
EOD
$d1 << EOD
0 1 0
1 0.4159514277 0
2 0.1679723042 0
3 0.06495648664 0
4 0.02343088855 0
5 0.007416553176 0
6 0.00166690179 0
7 0.0008117270395 0
8 0.0003952847075 0
9 0.0001924908158 0
10 9.373677617e-05 0
11 4.564676591e-05 0
12 2.222849263e-05 0
13 1.082455404e-05 0
14 5.271206293e-06 0
15 2.566906283e-06 0
EOD
$d2 << EOD
0 1 0
1 0.4869675252 0
2 0.2371373706 0
3 0.1154781985 0
4 0.05623413252 0
5 0.02738419634 0
6 0.01333521432 0
7 0.006493816316 0
8 0.00316227766 0
9 0.001539926526 0
10 0.0007498942093 0
11 0.0003651741273 0
12 0.000177827941 0
13 8.659643234e-05 0
14 4.216965034e-05 0
15 2.053525026e-05 0
EOD
$d3 << EOD
0 0.125 0
1 0.06087094065 0
2 0.02964217132 0
3 0.01443477481 0
4 0.007029266565 0
5 0.003423024543 0
6 0.00166690179 0
7 0.0008117270395 0
8 0.0003952847075 0
9 0.0001924908158 0
10 9.373677617e-05 0
11 4.564676591e-05 0
12 2.222849263e-05 0
13 1.082455404e-05 0
14 5.271206293e-06 0
15 2.566906283e-06 0
EOD
set terminal pngcairo size 800,560 font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'extrapolate_rope_spectrum.png'
set border 3 linewidth 1
set tics nomirror out scale 0.6
set grid xtics ytics mytics linecolor rgb '#e6e6e6' linewidth 0.6 dashtype 1, linecolor rgb '#f2f2f2' linewidth 0.5
set key top right reverse Left samplen 2 spacing 1.15 font ',15' opaque box linecolor rgb '#ffffff'
set logscale y 10
set yrange [1.711270855e-06:1.5]
set ytics ('10^{-5}' 1e-05, '10^{-4}' 0.0001, '10^{-3}' 0.001, '10^{-2}' 0.01, '10^{-1}' 0.1, '1' 1)
set mytics 10
set xlabel 'Frequency pair k' enhanced
set ylabel 'ω_k (rad/token, log scale)' enhanced
set offsets graph 0.04, graph 0.04, 0, 0
set autoscale xfix
plot $d0 using 1:2 with linespoints pointtype 7 pointsize 1.2 linewidth 1.5 linecolor rgb '#0072B2' title 'native' noenhanced, \
     $d1 using 1:2 with linespoints pointtype 5 pointsize 1.2 linewidth 1.5 linecolor rgb '#D55E00' title 'yarn_x8' noenhanced, \
     $d2 using 1:2 with linespoints pointtype 9 pointsize 1.2 linewidth 1.5 linecolor rgb '#009E73' title 'dynamic' noenhanced, \
     $d3 using 1:2 with linespoints pointtype 11 pointsize 1.2 linewidth 1.5 linecolor rgb '#CC79A7' title 'pi_x8' noenhanced
set terminal svg size 800,560 dynamic font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'extrapolate_rope_spectrum.svg'
replot
unset output
