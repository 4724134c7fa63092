module github.com/fraud-detector/fraud-detector

go 1.26.8
